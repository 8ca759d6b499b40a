import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { Operator } from '../../src/controller/operator.js';
import { coverStrings } from '../../src/addresses/cidr.js';
import { acrAccess, cidrsOf, condition, eventsFor, npRef, waitReady } from '../support/acraccess.js';
import { clientFor, createNamespace, eventually, test } from '../support/cluster.js';
import { expectedCover, realFeed } from '../support/feeds.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../support/operator.js';

let operator: Operator | undefined;
afterEach(async () => {
  await operator?.stop();
  operator = undefined;
});
beforeAll(() => installOperatorPrerequisites(clientFor('admin')));

const feed = realFeed();
const EASTUS = ['AzureContainerRegistry.EastUS', 'Storage.EastUS'];
const WESTEUROPE = ['AzureContainerRegistry.WestEurope', 'Storage.WestEurope'];

describe('the controller on a real API server', () => {
  test('create → policy with exactly the expected prefixes; spec update → updated; delete → collected', async ({
    namespace,
    admin,
  }) => {
    operator = await startTestOperator(namespace);
    await admin.apply(acrAccess(namespace, 'contoso'));
    const ready = await waitReady(admin, namespace, 'contoso');
    const np = await admin.get(npRef(namespace, 'acr-access-contoso'));
    expect(cidrsOf(np)).toEqual(expectedCover(feed, ...EASTUS));
    expect(np!.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'AcrAccess',
      name: 'contoso',
      uid: ready.metadata.uid,
      controller: true,
    });
    expect(ready.status?.planes).toEqual({ pod: 'Enforced', node: 'NotCovered' });
    expect(ready.status?.addresses).toMatchObject({
      serviceTagsChangeNumber: 376,
      prefixCount: cidrsOf(np).length,
      retiring: [],
    });
    expect(ready.status?.objects).toEqual([
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace, name: 'acr-access-contoso' },
    ]);
    expect(condition(ready as never, 'Ready')?.message).toContain('node plane (kubelet image pulls) is not covered');

    await admin.apply(
      acrAccess(namespace, 'contoso', {
        registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus', 'westeurope'] },
      }),
    );
    await waitReady(admin, namespace, 'contoso');
    expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-contoso')))).toEqual(
      expectedCover(feed, ...EASTUS, ...WESTEUROPE),
    );

    // Removing a region is make-before-break too: its prefixes retire for the grace period instead of vanishing.
    await admin.apply(acrAccess(namespace, 'contoso'));
    const back = await waitReady(admin, namespace, 'contoso');
    const both = expectedCover(feed, ...EASTUS, ...WESTEUROPE);
    const retiring = back.status?.addresses?.retiring?.map((r) => r.prefix) ?? [];
    expect(retiring.length).toBeGreaterThan(0);
    expect(coverStrings([...expectedCover(feed, ...EASTUS), ...retiring])).toEqual(both);
    // Same addresses allowed as before the edit, until the grace period ends.
    expect(coverStrings(cidrsOf(await admin.get(npRef(namespace, 'acr-access-contoso'))))).toEqual(both);
    expect((await eventsFor(admin, namespace, 'contoso')).some((e) => e.reason === 'PoliciesUpdated')).toBe(true);

    await admin.delete({ apiVersion: 'acraccess.io/v1alpha1', kind: 'AcrAccess', namespace, name: 'contoso' });
    await eventually(
      'policy collected',
      async () => (await admin.get(npRef(namespace, 'acr-access-contoso'))) === undefined,
      60_000,
    );
  });

  test('a hand-edited policy is restored and a hand-deleted one recreated', async ({ namespace, admin }) => {
    operator = await startTestOperator(namespace);
    await admin.apply(acrAccess(namespace, 'contoso'));
    await waitReady(admin, namespace, 'contoso');
    const want = cidrsOf(await admin.get(npRef(namespace, 'acr-access-contoso')));

    const hand = clientFor('admin', 'kubectl-edit');
    const live = (await admin.get(npRef(namespace, 'acr-access-contoso')))!;
    await hand.request('PUT', `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies/acr-access-contoso`, {
      body: {
        ...live,
        spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '8.8.8.8/32' } }] }] },
      },
    });
    await eventually('restored', async () => {
      const np = await admin.get(npRef(namespace, 'acr-access-contoso'));
      return (
        JSON.stringify(cidrsOf(np)) === JSON.stringify(want) &&
        (np!.spec as { podSelector: unknown }).podSelector !== undefined
      );
    });
    const restored = await admin.get(npRef(namespace, 'acr-access-contoso'));
    expect(cidrsOf(restored)).not.toContain('8.8.8.8/32');
    expect((restored!.spec as { podSelector: unknown }).podSelector).toEqual({ matchLabels: { app: 'puller' } });

    await admin.delete(npRef(namespace, 'acr-access-contoso'));
    await eventually(
      'recreated',
      async () => cidrsOf(await admin.get(npRef(namespace, 'acr-access-contoso'))).length === want.length,
    );
  });

  test('Audit mode computes and reports but writes no policy', async ({ namespace, admin }) => {
    operator = await startTestOperator(namespace);
    await admin.apply(acrAccess(namespace, 'audited', { mode: 'Audit' }));
    const r = await waitReady(admin, namespace, 'audited');
    expect(condition(r as never, 'Ready')?.reason).toBe('Audited');
    expect(r.status?.planes?.pod).toBe('Audited');
    expect(r.status?.addresses?.prefixCount).toBe(expectedCover(feed, ...EASTUS).length);
    expect(await admin.get(npRef(namespace, 'acr-access-audited'))).toBeUndefined();
  });

  test('a registry outside the allowlist is refused with a clear condition and nothing written', async ({
    namespace,
    admin,
  }) => {
    operator = await startTestOperator(namespace, { allowedRegistries: ['fabrikam*.azurecr.io'] });
    await admin.apply(acrAccess(namespace, 'contoso'));
    const r = await waitReady(admin, namespace, 'contoso', 'False');
    expect(condition(r as never, 'Stalled')).toMatchObject({ status: 'True', reason: 'RegistryNotAllowed' });
    expect(condition(r as never, 'Stalled')?.message).toContain('contoso.azurecr.io is not in the operator');
    expect(await admin.get(npRef(namespace, 'acr-access-contoso'))).toBeUndefined();
  });

  test('a region the feed lacks stalls with the region and feed named', async ({ namespace, admin }) => {
    operator = await startTestOperator(namespace);
    await admin.apply(
      // An Azure location only a Storage tag names (no registry can live there).
      acrAccess(namespace, 'nowhere', { registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus2stage'] } }),
    );
    const r = await waitReady(admin, namespace, 'nowhere', 'False');
    expect(condition(r as never, 'Stalled')?.message).toMatch(
      /region eastus2stage has no AzureContainerRegistry service tag in the Service Tags feed changeNumber 376/,
    );
  });

  test("objects are written only in the resource's own namespace; a ClusterAcrAccess reaches selected namespaces", async ({
    namespace,
    admin,
  }) => {
    // The operator's own namespace is never swept in by a selector that does not name it: run it elsewhere.
    const own = await createNamespace(admin, 'operator');
    await bindOperatorNamespace(admin, own);
    operator = await startTestOperator(own, { watchedNamespaces: [namespace, own] });
    const cluster = {
      apiVersion: 'acraccess.io/v1alpha1',
      kind: 'ClusterAcrAccess',
      metadata: { name: `c-${namespace}` },
      spec: {
        registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus'] },
        addressSources: ['ServiceTags'],
        namespaceSelector: { matchLabels: { 'acr-test': namespace } },
      },
    };
    try {
      await admin.apply(cluster);
      const npName = `cluster-acr-access-c-${namespace}`;
      await eventually(
        'ClusterAcrAccess ready',
        async () =>
          condition(
            await admin.get({
              apiVersion: 'acraccess.io/v1alpha1',
              kind: 'ClusterAcrAccess',
              name: cluster.metadata.name,
            }),
            'Ready',
          )?.status === 'True',
      );
      expect(await admin.get(npRef(namespace, npName))).toBeUndefined();
      await admin.apply({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: namespace, labels: { 'acr-test': namespace } },
      });
      const np = await eventually('policy in the labelled namespace', () => admin.get(npRef(namespace, npName)));
      expect(np.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ClusterAcrAccess', name: cluster.metadata.name });
      expect(cidrsOf(np)).toEqual(expectedCover(feed, ...EASTUS));
    } finally {
      await admin.delete({
        apiVersion: 'acraccess.io/v1alpha1',
        kind: 'ClusterAcrAccess',
        name: cluster.metadata.name,
      });
      await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: own });
    }
  });
});
