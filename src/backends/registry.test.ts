import { describe, expect, it } from 'vitest';
import type { AnyAcrAccess } from '../api/types.js';
import { BUILT_IN_BACKENDS, BackendRegistry, planesOf, type ConcreteBackend } from './registry.js';
import type { ServedKinds } from './types.js';

const served = (...kinds: string[]): ServedKinds => ({
  serves: async (apiVersion, kind) => kinds.includes(`${apiVersion}/${kind}`),
});
const ALL_KINDS = BUILT_IN_BACKENDS.flatMap((b) => b.kinds.map((k) => `${k.apiVersion}/${k.kind}`));
const registry = { loginServer: 'contoso.azurecr.io', regions: ['eastus'] };
const acr = (spec: Record<string, unknown> = {}): AnyAcrAccess => ({
  apiVersion: 'acraccess.io/v1alpha1',
  kind: 'AcrAccess',
  metadata: { name: 'a', namespace: 'n' },
  spec: { registry, ...spec },
});
const cluster = (spec: Record<string, unknown> = {}): AnyAcrAccess => ({
  ...acr(spec),
  kind: 'ClusterAcrAccess',
  metadata: { name: 'c' },
});

async function detected(kinds: string[], enabled?: ConcreteBackend[]) {
  const r = new BackendRegistry(BUILT_IN_BACKENDS, enabled);
  await r.detect(served(...kinds));
  return r;
}

describe('the backend registry', () => {
  it('asks for the planes the resource governs', () => {
    expect(planesOf(acr())).toEqual(['pod']);
    expect(planesOf(cluster())).toEqual([]);
    expect(planesOf(cluster({ namespaceSelector: {}, nodeSelector: {} }))).toEqual(['pod', 'node']);
  });

  it('falls back to Kubernetes NetworkPolicy for the pod plane and says the node plane is not covered', async () => {
    const r = await detected(ALL_KINDS);
    const choice = r.choose(cluster({ namespaceSelector: {}, nodeSelector: {} }));
    expect(choice.chosen.map((c) => [c.backend.name, c.planes])).toContainEqual(['NetworkPolicy', ['pod']]);
    expect(choice.uncovered.map((u) => u.plane)).toContain('node');
    expect(choice.refusal).toBeUndefined();
  });

  it('refuses a named backend that is not served, naming why', async () => {
    const r = await detected([]);
    const choice = r.choose(acr({ backends: ['NetworkPolicy'] }));
    expect(choice.refusal).toEqual({
      reason: 'BackendUnavailable',
      message: 'NetworkPolicy: networking.k8s.io/v1 NetworkPolicy is not served',
    });
  });

  it('treats a backend the operator may not use as not served, and notices a change on re-detection', async () => {
    const r = new BackendRegistry(BUILT_IN_BACKENDS, []);
    expect(await r.detect(served(...ALL_KINDS))).toBe(true);
    expect(r.choose(acr()).chosen).toEqual([]);
    expect(r.choose(acr()).report[0]?.reason).toBe("NetworkPolicy is not among the operator's --backends");
    expect(await r.detect(served(...ALL_KINDS))).toBe(false);
  });

  it('refuses a backend this version does not know', async () => {
    const r = await detected(ALL_KINDS);
    expect(r.choose(acr({ backends: ['Istio'] })).refusal?.message).toMatch(/^backends Istio are not available/);
  });
});
