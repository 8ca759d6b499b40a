import path from 'node:path';
import { readdirSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { Operator, OperatorOptions } from '../../src/controller/operator.js';
import type { KubeObject } from '../../src/kube/types.js';
import type { KubeClient } from '../../src/kube/client.js';
import { condition } from '../support/acraccess.js';
import {
  WRITE_VERBS,
  auditEvents,
  clientFor,
  controlPlane,
  createNamespace,
  eventually,
  installCrds,
  test,
} from '../support/cluster.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../support/operator.js';
import { deriveFeed, putFeed, realFeed, type FeedDoc } from '../support/feeds.js';

const upstream = controlPlane().upstreamDir;
const calicoCrds = () =>
  readdirSync(path.join(upstream, 'crds/calico/projectcalico.org_v3'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => path.join(upstream, 'crds/calico/projectcalico.org_v3', f));
const ciliumCrds = () =>
  readdirSync(path.join(upstream, 'crds/cilium/v1.19.0-pre.4'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => path.join(upstream, 'crds/cilium/v1.19.0-pre.4', f));
const CALICO_CRDS = [
  'globalnetworkpolicies',
  'globalnetworksets',
  'hostendpoints',
  'networkpolicies',
  'networksets',
  'tiers',
];

let operator: Operator | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await operator?.stop();
  operator = undefined;
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
beforeAll(() => installOperatorPrerequisites(clientFor('admin')));

async function removeCalico(admin: KubeClient): Promise<void> {
  for (const plural of CALICO_CRDS) {
    const name = `${plural}.projectcalico.org`;
    await admin.delete({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name });
    await eventually(
      `${name} gone`,
      async () =>
        (await admin.get({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name })) ===
        undefined,
      60_000,
    );
  }
  admin.discovery.invalidate();
}

/**
 * An operator in a namespace of its own, watching `namespace`, and a ClusterAcrAccess for eastus selecting
 * `namespace` (by a label given to it here) and the Linux nodes. With a feed, the operator reads it from a ConfigMap.
 */
async function clusterAccess(
  admin: KubeClient,
  namespace: string,
  prefix: string,
  options: Partial<OperatorOptions>,
  spec: Record<string, unknown>,
  feed?: FeedDoc,
) {
  const own = await createNamespace(admin, 'operator');
  cleanups.push(() => admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: own }));
  await bindOperatorNamespace(admin, own);
  if (feed) await putFeed(admin, own, 'service-tags', JSON.stringify(feed));
  operator = await startTestOperator(own, {
    watchedNamespaces: [namespace, own],
    ...(feed ? { serviceTags: `configmap:${own}/service-tags` } : {}),
    ...options,
  });
  await admin.apply({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: namespace, labels: { team: namespace } },
  });
  const name = `${prefix}-${namespace}`;
  const ref = { apiVersion: 'acraccess.io/v1alpha1', kind: 'ClusterAcrAccess', name };
  cleanups.push(() => admin.delete(ref));
  await admin.apply({
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name },
    spec: {
      registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus'] },
      addressSources: ['ServiceTags'],
      namespaceSelector: { matchLabels: { team: namespace } },
      nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } },
      ...spec,
    },
  });
  return { own, ref };
}

const list = async (admin: KubeClient, apiVersion: string, kind: string, namespace?: string) =>
  (await admin.list(apiVersion, kind, namespace ? { namespace } : {})).items;

describe('backends chosen by what the cluster serves', () => {
  test('Auto starts with NetworkPolicy, picks Calico for both planes once its API appears, without a restart', async ({
    namespace,
    admin,
  }) => {
    await removeCalico(admin);
    const { ref } = await clusterAccess(
      admin,
      namespace,
      'nodes',
      { backends: ['NetworkPolicy', 'Calico'], detectIntervalMs: 1000 },
      {},
    );
    const before = await eventually('Ready with NetworkPolicy', async () => {
      const r = await admin.get(ref);
      return condition(r, 'Ready')?.status === 'True' ? r : undefined;
    });
    const status = before.status as {
      planes: { pod: string; node: string };
      backends: { name: string; chosen: boolean; reason: string }[];
    };
    expect(status.planes).toEqual({ pod: 'Enforced', node: 'NotCovered' });
    expect(status.backends.find((b) => b.name === 'Calico')).toMatchObject({
      chosen: false,
      reason: expect.stringContaining('the Calico projectcalico.org/v3 API is not served') as unknown,
    });
    expect(condition(before, 'Ready')?.message).toContain('the node plane (kubelet image pulls) is not covered');
    expect(await list(admin, 'networking.k8s.io/v1', 'NetworkPolicy', namespace)).toHaveLength(1);

    await installCrds(admin, calicoCrds());
    const after = await eventually(
      'Calico chosen for both planes',
      async () => {
        const r = await admin.get(ref);
        const p = (r?.status as { planes?: { node?: string } } | undefined)?.planes;
        return p?.node === 'Enforced' ? r : undefined;
      },
      60_000,
    );
    const backends = (after.status as { backends: { name: string; chosen: boolean; planes: string[] }[] }).backends;
    expect(backends.filter((b) => b.chosen).map((b) => [b.name, b.planes])).toEqual([['Calico', ['pod', 'node']]]);
    const tier = await admin.get({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', name: 'acr-access' });
    expect(tier?.spec).toMatchObject({ defaultAction: 'Pass' });
    const gnp = await list(admin, 'projectcalico.org/v3', 'GlobalNetworkPolicy');
    const mine = gnp.filter((o) => o.metadata.ownerReferences?.[0]?.uid === after.metadata.uid);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.spec).toMatchObject({ tier: 'acr-access', types: ['Egress'] });
    expect(JSON.stringify(mine[0]!.spec)).not.toContain('Deny');
    const sets = await list(admin, 'projectcalico.org/v3', 'GlobalNetworkSet');
    expect(sets.filter((o) => o.metadata.ownerReferences?.[0]?.uid === after.metadata.uid).length).toBeGreaterThan(0);
    expect(await list(admin, 'projectcalico.org/v3', 'NetworkPolicy', namespace)).toHaveLength(1);
    expect(await list(admin, 'projectcalico.org/v3', 'NetworkSet', namespace)).not.toHaveLength(0);
    // Make-before-break across backends: the isolating NetworkPolicy is pruned once Calico's objects exist.
    await eventually(
      'NetworkPolicy pruned',
      async () => (await list(admin, 'networking.k8s.io/v1', 'NetworkPolicy', namespace)).length === 0,
    );
    // A hand-widened network set is restored.
    const set = (await list(admin, 'projectcalico.org/v3', 'NetworkSet', namespace))[0]!;
    const setRef = { apiVersion: 'projectcalico.org/v3', kind: 'NetworkSet', namespace, name: set.metadata.name };
    await clientFor('admin', 'kubectl-edit').apply({
      apiVersion: setRef.apiVersion,
      kind: setRef.kind,
      metadata: { name: set.metadata.name, namespace },
      spec: { nets: ['0.0.0.0/0'] },
    });
    await eventually(
      'network set restored',
      async () => JSON.stringify((await admin.get(setRef))?.spec) === JSON.stringify(set.spec),
    );

    // Steady state with Calico: nothing written.
    await operator!.manager.idle();
    await new Promise((r) => setTimeout(r, 1500));
    const writes = async () =>
      (await auditEvents((e) => e.user.username === 'acr-access-operator' && WRITE_VERBS.has(e.verb))).length;
    const settled = await writes();
    await new Promise((r) => setTimeout(r, 4000));
    expect((await writes()) - settled).toBe(0);
  });

  test('Cilium: additive policies on both planes, and a feed change rewrites only the CIDR groups', async ({
    namespace,
    admin,
  }) => {
    await installCrds(admin, ciliumCrds());
    const base = realFeed();
    const { ref, own } = await clusterAccess(
      admin,
      namespace,
      'cilium',
      { backends: ['NetworkPolicy', 'Cilium'] },
      { backends: ['Cilium'] },
      base,
    );
    const ready = await eventually('both planes enforced by Cilium', async () => {
      const r = await admin.get(ref);
      const p = (r?.status as { planes?: { pod?: string; node?: string } } | undefined)?.planes;
      return p?.pod === 'Enforced' && p.node === 'Enforced' ? r : undefined;
    });
    const owned = <T extends KubeObject>(items: T[]) =>
      items.filter((o) => o.metadata.ownerReferences?.[0]?.uid === ready.metadata.uid);
    const cnps = owned(await list(admin, 'cilium.io/v2', 'CiliumNetworkPolicy', namespace));
    const ccnps = owned(await list(admin, 'cilium.io/v2', 'CiliumClusterwideNetworkPolicy'));
    const groups = () => list(admin, 'cilium.io/v2', 'CiliumCIDRGroup').then(owned);
    expect(cnps.length).toBeGreaterThan(0);
    expect(ccnps).toHaveLength(1);
    expect((await groups()).length).toBeGreaterThan(0);
    // Additive only: no policy turns on default deny for what it selects.
    for (const p of [...cnps, ...ccnps])
      expect((p as unknown as { spec: { enableDefaultDeny?: unknown } }).spec.enableDefaultDeny).toEqual({
        egress: false,
        ingress: false,
      });
    expect(await list(admin, 'networking.k8s.io/v1', 'NetworkPolicy', namespace)).toEqual([]);

    // Hand edits are restored and hand deletions recreated, as for NetworkPolicy.
    const cnp = cnps.find((p) => !p.metadata.name.endsWith('-fqdn'))!;
    const edit = clientFor('admin', 'kubectl-edit');
    const cnpRef = { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', namespace, name: cnp.metadata.name };
    await edit.apply({
      apiVersion: cnpRef.apiVersion,
      kind: cnpRef.kind,
      metadata: { name: cnp.metadata.name, namespace },
      spec: { ...(cnp.spec as object), egress: [{ toCIDR: ['0.0.0.0/0'] }] },
    });
    await eventually(
      'hand edit restored',
      async () => JSON.stringify((await admin.get(cnpRef))?.spec) === JSON.stringify(cnp.spec),
    );
    const ccnp = ccnps[0]!;
    const ccnpRef = { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', name: ccnp.metadata.name };
    await admin.delete(ccnpRef);
    await eventually('hand deletion recreated', async () => {
      const again = await admin.get(ccnpRef);
      return again && again.metadata.uid !== ccnp.metadata.uid ? again : undefined;
    });

    const versions = async () =>
      [
        ...owned(await list(admin, 'cilium.io/v2', 'CiliumNetworkPolicy', namespace)),
        ...owned(await list(admin, 'cilium.io/v2', 'CiliumClusterwideNetworkPolicy')),
      ].map(
        (o) =>
          `${o.metadata.name}@${(o as unknown as { metadata: { resourceVersion: string } }).metadata.resourceVersion}`,
      );
    const policiesBefore = await versions();
    const added = '20.33.0.0/24';
    await putFeed(
      admin,
      own,
      'service-tags',
      JSON.stringify(deriveFeed(base, 377, { add: { 'Storage.EastUS': [added] } })),
    );
    await eventually(
      'the new prefix in a CIDR group',
      async () => JSON.stringify((await groups()).map((g) => (g as unknown as { spec: unknown }).spec)).includes(added),
      30_000,
    );
    await operator!.manager.idle();
    expect(await versions()).toEqual(policiesBefore);
  });

  test('all three backends at once: a removed prefix retires in every backend, a refused feed and a quiet resync write nothing', async ({
    namespace,
    admin,
  }) => {
    await installCrds(admin, [...ciliumCrds(), ...calicoCrds()]);
    const base = realFeed();
    const all = ['NetworkPolicy', 'Cilium', 'Calico'] as const;
    const { ref, own } = await clusterAccess(
      admin,
      namespace,
      'all',
      { backends: [...all], resyncMs: 1000 },
      { backends: [...all] },
      base,
    );
    const chosen = (r: KubeObject | undefined) =>
      ((r?.status as { backends?: { name: string; chosen: boolean }[] } | undefined)?.backends ?? [])
        .filter((b) => b.chosen)
        .map((b) => b.name);
    await eventually('all three chosen and Ready', async () => {
      const r = await admin.get(ref);
      return condition(r, 'Ready')?.status === 'True' && chosen(r).length === 3 ? r : undefined;
    });
    const removed = base.values.find((v) => v.name === 'Storage.EastUS')!.properties.addressPrefixes[0]!;
    // Where each backend keeps the prefixes: NetworkPolicy ipBlocks, Cilium CIDR groups, Calico network sets.
    const everywhere = async () => {
      const texts = await Promise.all([
        list(admin, 'networking.k8s.io/v1', 'NetworkPolicy', namespace),
        list(admin, 'cilium.io/v2', 'CiliumCIDRGroup'),
        list(admin, 'projectcalico.org/v3', 'NetworkSet', namespace),
        list(admin, 'projectcalico.org/v3', 'GlobalNetworkSet'),
      ]);
      return texts.map((items) => JSON.stringify(items.map((o) => o.spec)).includes(removed));
    };
    expect(await everywhere()).toEqual([true, true, true, true]);
    await putFeed(
      admin,
      own,
      'service-tags',
      JSON.stringify(deriveFeed(base, 377, { remove: { 'Storage.EastUS': [removed] } })),
    );
    await eventually('the removed prefix is retiring', async () => {
      const r = await admin.get(ref);
      const retiring = (r?.status as { addresses?: { retiring?: { prefix: string }[] } } | undefined)?.addresses
        ?.retiring;
      return retiring?.some((x) => x.prefix === removed) ?? false;
    });
    await operator!.manager.idle();
    expect(await everywhere()).toEqual([true, true, true, true]);

    const writes = async () =>
      (await auditEvents((e) => e.user.username === 'acr-access-operator' && WRITE_VERBS.has(e.verb))).length;
    await new Promise((r) => setTimeout(r, 1500));
    const settled = await writes();
    // A widened feed is refused: nothing changes in any backend.
    const widened = deriveFeed(base, 378, { add: { 'Storage.EastUS': ['0.0.0.0/0'] } });
    await putFeed(admin, own, 'service-tags', JSON.stringify(widened));
    await eventually(
      'the widened feed refused',
      async () => condition(await admin.get(ref), 'Degraded')?.reason === 'FeedOutOfBounds',
      30_000,
    );
    await new Promise((r) => setTimeout(r, 3000));
    await operator!.manager.idle();
    const after = (
      await auditEvents((e) => e.user.username === 'acr-access-operator' && WRITE_VERBS.has(e.verb))
    ).slice(settled);
    // Only the resource's own status (Degraded) may have been written; no object of any backend.
    expect(
      after.filter((e) => e.objectRef?.subresource !== 'status').map((e) => `${e.verb} ${e.objectRef?.resource}`),
    ).toEqual([]);
    expect(await everywhere()).toEqual([true, true, true, true]);
  });
});
