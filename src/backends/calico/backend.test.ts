import { describe, expect, it } from 'vitest';
import type { EgressIntent } from '../../intent/intent.js';
import type { ServedKinds } from '../types.js';
import { calicoBackend } from './backend.js';

/** What a cluster serves, as discovery would answer, and every question asked of it. */
function cluster(served: string[]): ServedKinds & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    serves: (apiVersion, kind) => {
      asked.push(`${apiVersion} ${kind}`);
      return Promise.resolve(served.includes(`${apiVersion} ${kind}`));
    },
  };
}

const V3 = ['NetworkPolicy', 'NetworkSet', 'GlobalNetworkPolicy', 'GlobalNetworkSet', 'Tier'].map(
  (k) => `projectcalico.org/v3 ${k}`,
);
const V1 = V3.map((k) => k.replace('projectcalico.org/v3', 'crd.projectcalico.org/v1'));

describe('calicoBackend.detect', () => {
  it('is served when all five projectcalico.org/v3 kinds are, and writes exactly those', async () => {
    const detection = await calicoBackend.detect(cluster(V3));
    expect(detection.served).toBe(true);
    expect(detection.reason).toMatch(/projectcalico\.org\/v3 .*Tier are served/);
    expect(detection.kinds.map((k) => `${k.apiVersion} ${k.kind} ${k.namespaced}`)).toEqual([
      'projectcalico.org/v3 NetworkPolicy true',
      'projectcalico.org/v3 NetworkSet true',
      'projectcalico.org/v3 GlobalNetworkPolicy false',
      'projectcalico.org/v3 GlobalNetworkSet false',
      'projectcalico.org/v3 Tier false',
    ]);
  });

  it('names what is missing when only some kinds are served', async () => {
    const detection = await calicoBackend.detect(cluster(V3.filter((k) => !k.endsWith('Tier'))));
    expect(detection).toEqual({
      served: false,
      reason: expect.stringMatching(/^projectcalico\.org\/v3 Tier is not served: install/) as unknown,
      kinds: [],
    });
    const two = await calicoBackend.detect(cluster(V3.filter((k) => !k.includes('Global'))));
    expect(two.reason).toMatch(/GlobalNetworkPolicy, GlobalNetworkSet are not served/);
  });

  it('never counts crd.projectcalico.org/v1 (Calico storage) as the API, and never asks about it', async () => {
    const c = cluster(V1);
    const detection = await calicoBackend.detect(c);
    expect(detection.served).toBe(false);
    expect(detection.reason).toMatch(/^the Calico projectcalico\.org\/v3 API is not served/);
    expect(c.asked).toEqual(V3);
  });
});

describe('calicoBackend', () => {
  it('governs both planes and creates the tier only where Calico is served', async () => {
    expect(calicoBackend.name).toBe('Calico');
    expect(calicoBackend.planes).toEqual(['pod', 'node']);
    const served = await calicoBackend.detect(cluster(V3));
    expect(calicoBackend.prerequisites!(served).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Tier/acr-access',
    ]);
    expect(calicoBackend.prerequisites!(await calicoBackend.detect(cluster([])))).toEqual([]);
  });

  it('plans with the byte budget it is given', async () => {
    const detection = await calicoBackend.detect(cluster(V3));
    const intent: EgressIntent = {
      owner: { apiVersion: 'acraccess.io/v1alpha1', kind: 'AcrAccess', name: 'r', namespace: 'n' },
      plane: 'pod',
      hosts: ['r.azurecr.io'],
      prefixes: { ipv4: Array.from({ length: 50 }, (_, i) => `10.0.${i}.0/24`), ipv6: [] },
      ports: [{ protocol: 'TCP', port: 443 }],
      workloads: { podSelector: {}, namespaces: ['n'] },
      options: { cilium: { podMatch: 'FQDNAndCIDR', nodeMatch: 'CIDR' } },
      provenance: { feed: { changeNumber: 1, cloud: 'Public', source: 't' }, tags: [], dns: [], origins: {} },
    };
    const sets = (bytes?: number) =>
      calicoBackend
        .plan(intent, detection, bytes ? { maxBytesPerObject: bytes } : {})
        .filter((o) => o.kind === 'NetworkSet').length;
    expect(sets()).toBe(1);
    expect(sets(200)).toBeGreaterThan(1);
  });
});
