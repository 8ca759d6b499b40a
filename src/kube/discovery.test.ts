import { describe, expect, it } from 'vitest';
import { Discovery } from './discovery.js';
import { KubeApiError } from './errors.js';

const networking = { resources: [{ name: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true }] };

describe('Discovery', () => {
  it('caches a group/version and maps kind to resource name', async () => {
    const calls: string[] = [];
    const d = new Discovery(async (p) => (calls.push(p), networking));
    expect(await d.resource('networking.k8s.io/v1', 'NetworkPolicy')).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      plural: 'networkpolicies',
      namespaced: true,
      groupVersionPath: '/apis/networking.k8s.io/v1',
    });
    await d.resource('networking.k8s.io/v1', 'NetworkPolicy');
    expect(calls).toEqual(['/apis/networking.k8s.io/v1']);
  });

  it('treats an unserved group/version as absent and asks again only after the negative TTL', async () => {
    let now = 0;
    let calls = 0;
    let served = false;
    const d = new Discovery(
      async () => {
        calls++;
        if (!served) throw new KubeApiError(404, 'NotFound', 'not found');
        return { resources: [{ name: 'ciliumnetworkpolicies', kind: 'CiliumNetworkPolicy', namespaced: true }] };
      },
      1000,
      () => now,
    );
    expect(await d.isServed('cilium.io/v2', 'CiliumNetworkPolicy')).toBe(false);
    served = true;
    now = 500;
    expect(await d.isServed('cilium.io/v2', 'CiliumNetworkPolicy')).toBe(false);
    expect(calls).toBe(1);
    now = 1500;
    expect(await d.isServed('cilium.io/v2', 'CiliumNetworkPolicy')).toBe(true);
    expect(calls).toBe(2);
  });

  it('uses /api/v1 for the core group and lets other errors through', async () => {
    const d = new Discovery(async (p) => {
      if (p === '/api/v1') return { resources: [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true }] };
      throw new KubeApiError(503, 'ServiceUnavailable', 'down');
    });
    expect((await d.resource('v1', 'ConfigMap'))?.groupVersionPath).toBe('/api/v1');
    await expect(d.resource('apps/v1', 'Deployment')).rejects.toThrow('down');
  });
});
