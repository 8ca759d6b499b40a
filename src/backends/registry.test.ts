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

  it('falls back to Kubernetes NetworkPolicy for the pod plane when no CNI serves it; the node plane stays uncovered', async () => {
    const r = await detected(['networking.k8s.io/v1/NetworkPolicy']);
    const choice = r.choose(cluster({ namespaceSelector: {}, nodeSelector: {} }));
    expect(choice.chosen.map((c) => [c.backend.name, c.planes])).toEqual([['NetworkPolicy', ['pod']]]);
    expect(choice.uncovered.map((u) => u.plane)).toEqual(['node']);
    expect(choice.uncovered[0]?.reason).toContain('Calico: the Calico projectcalico.org/v3 API is not served');
    expect(choice.refusal).toBeUndefined();
  });

  it('takes a served CNI for both planes and leaves out NetworkPolicy, which would isolate pods', async () => {
    const r = await detected(ALL_KINDS);
    const choice = r.choose(cluster({ namespaceSelector: {}, nodeSelector: {} }));
    expect(choice.chosen.map((c) => [c.backend.name, c.planes])).toEqual([
      ['Cilium', ['pod', 'node']],
      ['Calico', ['pod', 'node']],
    ]);
    expect(choice.uncovered).toEqual([]);
    expect(choice.report.find((x) => x.name === 'NetworkPolicy')?.reason).toBe(
      'not needed: Cilium covers the pod plane without isolating pods',
    );
    const calicoOnly = await detected(ALL_KINDS.filter((k) => !k.startsWith('cilium.io/')));
    expect(calicoOnly.choose(acr()).chosen.map((c) => c.backend.name)).toEqual(['Calico']);
    // Named explicitly, NetworkPolicy is written even next to a CNI.
    expect(r.choose(acr({ backends: ['NetworkPolicy'] })).chosen.map((c) => c.backend.name)).toEqual(['NetworkPolicy']);
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
    expect(r.choose(acr()).report.map((x) => x.reason)).toEqual([
      'NetworkPolicy is not enabled (acr-access run --backends, render --backend)',
      'Cilium is not enabled (acr-access run --backends, render --backend)',
      'Calico is not enabled (acr-access run --backends, render --backend)',
    ]);
    expect(await r.detect(served(...ALL_KINDS))).toBe(false);
  });

  it('refuses a backend this version does not know', async () => {
    const r = await detected(ALL_KINDS);
    expect(r.choose(acr({ backends: ['Istio'] })).refusal?.message).toMatch(/^backends Istio are not available/);
  });
});
