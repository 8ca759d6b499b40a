import path from 'node:path';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { AnyAcrAccess } from '../../src/api/types.js';
import { EmbeddedSnapshotSource } from '../../src/addresses/sources.js';
import { calicoBackend } from '../../src/backends/calico/backend.js';
import { calicoTier } from '../../src/backends/calico/plan.js';
import { SpecEndpointResolver } from '../../src/endpoints/endpoints.js';
import type { EgressIntent } from '../../src/intent/intent.js';
import { resolveResource } from '../../src/intent/pipeline.js';
import type { KubeClient } from '../../src/kube/client.js';
import { KubeApiError } from '../../src/kube/errors.js';
import { refOf, type KubeObject } from '../../src/kube/types.js';
import { acrAccess } from '../support/acraccess.js';
import { clientFor, controlPlane, createNamespace, installCrds, test } from '../support/cluster.js';

const upstream = controlPlane().upstreamDir;
if (!upstream) console.warn('Calico backend tests skipped: shared/upstream not found beside the repository');

const REGISTRY = { loginServer: 'contoso.azurecr.io', regions: ['eastus'] };
/** East US's registry and storage ranges take about 2.7 KB of JSON: three or more sets at this budget. */
const SHARD_BYTES = 1024;
const DETECTED = { served: true, reason: 'projectcalico.org/v3 served', kinds: [] };

/** Intents from a resource as stored by the API server (real uid), the real endpoint rules and the embedded feed. */
async function intentsOf(resource: KubeObject, namespaces: string[] = []): Promise<EgressIntent[]> {
  const { intents } = await resolveResource(resource as unknown as AnyAcrAccess, {
    endpoints: new SpecEndpointResolver(),
    feedFor: (e) => new EmbeddedSnapshotSource(e.cloud.name).load(),
    namespacesFor: () => Promise.resolve(namespaces),
  });
  return intents;
}

/**
 * Each planned object: a server-side dry run that persists nothing, then a real create (POST, as the operator
 * creates). The stored object must be the planned one: the server adds nothing to the spec, so the operator's
 * field-by-field comparison with live objects stays exact.
 */
async function createAll(admin: KubeClient, objects: KubeObject[]): Promise<KubeObject[]> {
  const created: KubeObject[] = [];
  for (const planned of objects) {
    await admin.create(planned, { dryRun: true });
    expect(await admin.get(refOf(planned)), `dry run persisted ${planned.metadata.name}`).toBeUndefined();
    const stored = await admin.create(planned);
    created.push(stored);
    expect(stored.spec).toEqual(planned.spec);
    expect(stored.metadata.labels).toEqual(planned.metadata.labels);
    expect(stored.metadata.annotations).toEqual(planned.metadata.annotations);
    expect(stored.metadata.ownerReferences).toEqual(planned.metadata.ownerReferences);
  }
  return created;
}

async function refused(admin: KubeClient, obj: KubeObject): Promise<KubeApiError> {
  const err = await admin.create(obj).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(KubeApiError);
  expect((err as KubeApiError).code).toBe(422);
  return err as KubeApiError;
}

describe.skipIf(!upstream)('Calico plans in the real API server (projectcalico.org/v3 CRDs)', () => {
  const admin = clientFor('admin');
  let tierCreated = false;

  beforeAll(async () => {
    const names = await installCrds(
      admin,
      readdirSync(path.join(upstream, 'crds/calico/projectcalico.org_v3')).map((f) =>
        path.join(upstream, 'crds/calico/projectcalico.org_v3', f),
      ),
    );
    expect(names).toEqual(expect.arrayContaining(['tiers.projectcalico.org', 'networksets.projectcalico.org']));
  });

  afterAll(async () => {
    // The Tier is cluster-wide: removed only if this file made it. The CRDs stay for other tests.
    if (tierCreated) await admin.delete(refOf(calicoTier()));
  }, 30_000);

  test('detect finds all five kinds through real discovery', { timeout: 60_000 }, async () => {
    const detection = await calicoBackend.detect({ serves: (v, k) => admin.discovery.isServed(v, k) });
    expect(detection).toMatchObject({ served: true });
    expect(detection.kinds).toHaveLength(5);
  });

  test('the acr-access Tier is accepted and stored as planned', { timeout: 60_000 }, async () => {
    const [tier] = calicoBackend.prerequisites!(DETECTED);
    const live = await admin.get(refOf(tier!));
    if (live) {
      // Another test made it already; it must still be ours, and a dry-run create must meet it.
      expect(live.spec).toEqual(tier!.spec);
      expect(((await admin.create(tier!, { dryRun: true }).catch((e: unknown) => e)) as KubeApiError).code).toBe(409);
      return;
    }
    const [stored] = await createAll(admin, [tier!]);
    tierCreated = true;
    expect(stored!.spec).toEqual({ order: 999_000, defaultAction: 'Pass' });
  });

  test('pod plane of an AcrAccess, sharded, with DNS', { timeout: 60_000 }, async ({ namespace }) => {
    const owner = await admin.create(
      acrAccess(namespace, 'contoso', { registry: REGISTRY, podSelector: { matchLabels: { app: 'flux' } } }),
    );
    const [intent] = await intentsOf(owner);
    const objects = calicoBackend.plan(intent!, DETECTED, { maxBytesPerObject: SHARD_BYTES });
    const sets = objects.filter((o) => o.kind === 'NetworkSet');
    expect(sets.length).toBeGreaterThan(2);
    const created = await createAll(admin, objects);
    expect(created.every((o) => o.metadata.ownerReferences?.[0]?.uid === owner.metadata.uid)).toBe(true);
    const nets = created.flatMap((o) => (o.kind === 'NetworkSet' ? (o.spec as { nets: string[] }).nets : []));
    expect(nets).toEqual([...intent!.prefixes.ipv4, ...intent!.prefixes.ipv6]);
    const policy = created.find((o) => o.kind === 'NetworkPolicy')!;
    expect((policy.spec as { egress: unknown[] }).egress).toHaveLength(3);
  });

  test('pod plane with the DNS rule off', { timeout: 60_000 }, async ({ namespace }) => {
    const owner = await admin.create(
      acrAccess(namespace, 'no-dns', { registry: REGISTRY, dnsEgress: { enabled: false } }),
    );
    const [intent] = await intentsOf(owner);
    expect(intent!.dns).toBeUndefined();
    const created = await createAll(admin, calicoBackend.plan(intent!, DETECTED));
    const policy = created.find((o) => o.kind === 'NetworkPolicy')!;
    expect((policy.spec as { egress: unknown[] }).egress).toHaveLength(1);
  });

  test(
    'pod plane of a ClusterAcrAccess in two namespaces, and its node plane',
    { timeout: 60_000 },
    async ({ namespace }) => {
      const other = await createNamespace(admin, 'calico');
      const name = `calico-${namespace}`;
      const owner = await admin.create({
        apiVersion: 'acraccess.io/v1alpha1',
        kind: 'ClusterAcrAccess',
        metadata: { name },
        spec: {
          registry: REGISTRY,
          addressSources: ['ServiceTags'],
          namespaceSelector: { matchLabels: { 'acr-access': 'contoso' } },
          nodeSelector: { matchExpressions: [{ key: 'kubernetes.azure.com/mode', operator: 'In', values: ['user'] }] },
        },
      });
      const cluster: KubeObject[] = [];
      try {
        const intents = await intentsOf(owner, [namespace, other].sort());
        expect(intents.map((i) => i.plane)).toEqual(['pod', 'node']);
        const pod = calicoBackend.plan(intents[0]!, DETECTED);
        expect(new Set(pod.map((o) => o.metadata.namespace))).toEqual(new Set([namespace, other]));
        await createAll(admin, pod);
        const node = calicoBackend.plan(intents[1]!, DETECTED, { maxBytesPerObject: SHARD_BYTES });
        expect(node.every((o) => o.metadata.namespace === undefined)).toBe(true);
        expect(node.filter((o) => o.kind === 'GlobalNetworkSet').length).toBeGreaterThan(2);
        for (const o of node) {
          await createAll(admin, [o]);
          cluster.push(o);
        }
        const gnp = await admin.get(refOf(node.find((o) => o.kind === 'GlobalNetworkPolicy')!));
        expect((gnp!.spec as { selector: string }).selector).toBe(
          "kubernetes.azure.com/mode in {'user'} && !has(projectcalico.org/namespace)",
        );
      } finally {
        for (const o of cluster.reverse()) await admin.delete(refOf(o));
        await admin.delete(refOf(owner));
        await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: other });
      }
    },
  );

  test(
    'validation is live: broken objects are refused with the schema message',
    { timeout: 60_000 },
    async ({ namespace }) => {
      const [intent] = await intentsOf(await admin.create(acrAccess(namespace, 'broken', { registry: REGISTRY })));
      const policy = calicoBackend.plan(intent!, DETECTED).find((o) => o.kind === 'NetworkPolicy');
      const badTypes = { ...policy!, spec: { ...(policy!.spec as object), types: ['Sideways'] } };
      expect((await refused(admin, badTypes)).message).toMatch(/types.*Unsupported value: "Sideways"/);
      const allowTier = { ...calicoTier(), metadata: { name: 'acr-access-broken' }, spec: { defaultAction: 'Allow' } };
      expect((await refused(admin, allowTier)).message).toMatch(/defaultAction.*Unsupported value: "Allow"/);
      const preDnatEgress: KubeObject = {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'acr-access.broken' },
        spec: { tier: 'acr-access', preDNAT: true, applyOnForward: true, egress: [{ action: 'Allow' }] },
      };
      expect((await refused(admin, preDnatEgress)).message).toMatch(/preDNAT policy cannot have any egress rules/);
    },
  );
});
