import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dump, loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ciliumBackend, detectCilium, type ServedSchemas } from '../../src/backends/cilium/backend.js';
import { OpenApiFields } from '../../src/kube/openapi.js';
import { planCilium } from '../../src/backends/cilium/plan.js';
import type { Detection, PlanOptions } from '../../src/backends/types.js';
import type { EgressIntent, IntentOwner } from '../../src/intent/intent.js';
import type { KubeClient } from '../../src/kube/client.js';
import { KubeApiError } from '../../src/kube/errors.js';
import { refOf, type KubeObject } from '../../src/kube/types.js';
import { acrAccess } from '../support/acraccess.js';
import { clientFor, controlPlane, eventually, installCrds, test } from '../support/cluster.js';

const upstream = controlPlane().upstreamDir;
if (!upstream) console.warn('Cilium backend tests skipped: shared/upstream not found beside the repository');
/** The other test files assume these CRDs: installed last, and again in afterAll whatever happened. */
const FINAL = 'v1.19.0-pre.4';
const CRD_FILES = ['ciliumnetworkpolicies', 'ciliumclusterwidenetworkpolicies', 'ciliumcidrgroups'];
const ciliumDir = upstream ? path.join(upstream, 'crds/cilium') : '';
const VERSIONS = upstream
  ? [
      ...readdirSync(ciliumDir)
        .filter((d) => d !== FINAL)
        .sort(),
      FINAL,
    ]
  : [];
const filesOf = (version: string) => CRD_FILES.map((f) => path.join(ciliumDir, version, `${f}.yaml`));
const CRD = 'apiextensions.k8s.io/v1';

/** Cluster-scoped objects made here (CIDR groups, host policies, ClusterAcrAccess owners), deleted in afterAll too. */
const clusterScoped = new Map<string, KubeObject>();

/**
 * Applies CRD files and waits until they are Established. The API server refuses a CRD that drops a version still
 * listed in status.storedVersions (CiliumCIDRGroup: v2alpha1 only in 1.16, v2 only on main), so such a CRD is
 * deleted first; this file deletes every object it makes, so nothing else is lost.
 */
async function installCilium(admin: KubeClient, files: string[]): Promise<void> {
  for (const file of files) {
    for (const doc of loadAll(readFileSync(file, 'utf8')) as KubeObject[]) {
      const versions = (doc.spec as { versions: { name: string }[] }).versions.map((v) => v.name);
      const live = await admin.get({ apiVersion: CRD, kind: 'CustomResourceDefinition', name: doc.metadata.name });
      const stored = (live?.status as { storedVersions?: string[] } | undefined)?.storedVersions ?? [];
      if (!stored.some((v) => !versions.includes(v))) continue;
      const ref = { apiVersion: CRD, kind: 'CustomResourceDefinition', name: doc.metadata.name };
      await admin.delete(ref);
      await eventually(`${ref.name} deleted`, async () => (await admin.get(ref)) === undefined, 60_000, 200);
    }
  }
  await installCrds(admin, files);
}

/** Discovery plus the served OpenAPI schemas, as the operator would ask them. */
function servedBy(client: KubeClient): ServedSchemas {
  const fields = new OpenApiFields((p) => client.request('GET', p));
  return {
    serves: (apiVersion, kind) => client.discovery.isServed(apiVersion, kind),
    hasField: (apiVersion, kind, p) => fields.hasField(apiVersion, kind, p),
  };
}

/** Detection once the API server's discovery and OpenAPI documents caught up with the CRDs just installed. */
async function detectWhen(want: (d: Detection) => boolean): Promise<Detection> {
  let last: Detection | undefined;
  return eventually(
    'Cilium detection to settle',
    async () => {
      last = await detectCilium(servedBy(clientFor('admin')));
      return want(last) ? last : undefined;
    },
    30_000,
    250,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last detection: ${JSON.stringify(last)}`);
  });
}

const HOSTS = ['*.blob.core.windows.net', 'contoso.azurecr.io', 'contoso.eastus.data.azurecr.io'];
const PREFIXES = { ipv4: ['13.69.64.0/19', '20.38.150.0/23', '52.168.0.0/16'], ipv6: ['2603:1030:403::/48'] };
const MANY = { ipv4: Array.from({ length: 60 }, (_, i) => `20.${i}.0.0/16`), ipv6: ['2603:1030:403::/48'] };

function intent(owner: IntentOwner, plane: 'pod' | 'node', namespace: string, over: Partial<EgressIntent> = {}) {
  const i: EgressIntent = {
    owner,
    plane,
    hosts: HOSTS,
    prefixes: PREFIXES,
    ports: [{ protocol: 'TCP', port: 443 }],
    workloads:
      plane === 'pod'
        ? { podSelector: { matchLabels: { app: 'puller' } }, namespaces: [namespace] }
        : { podSelector: {}, namespaces: [], nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } } },
    options: { cilium: { podMatch: 'FQDNAndCIDR', nodeMatch: 'CIDR' } },
    provenance: { feed: { changeNumber: 376, cloud: 'Public', source: 'test' }, tags: [], dns: [], origins: {} },
    ...over,
  };
  if (plane === 'pod' && !('dns' in over))
    i.dns = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
      podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
    };
  return i;
}

interface Owners {
  acr: IntentOwner;
  cluster: IntentOwner;
}
type Case = [string, (o: Owners, namespace: string) => EgressIntent[], PlanOptions?];
const pods = (m: 'FQDNAndCIDR' | 'CIDR' | 'FQDN') => ({
  options: { cilium: { podMatch: m, nodeMatch: 'CIDR' as const } },
});
const CASES: Case[] = [
  ...(['FQDNAndCIDR', 'CIDR', 'FQDN'] as const).map((m): Case => [
    `AcrAccess pods ${m}`,
    (o, ns) => [intent(o.acr, 'pod', ns, pods(m))],
  ]),
  ['AcrAccess pods, DNS rule off', (o, ns) => [intent(o.acr, 'pod', ns, { dns: undefined })]],
  ...(['FQDNAndCIDR', 'CIDR', 'FQDN'] as const).map((m): Case => [
    `ClusterAcrAccess pods ${m}`,
    (o, ns) => [intent(o.cluster, 'pod', ns, pods(m))],
  ]),
  ...(['CIDR', 'FQDNAndCIDR'] as const).map((m): Case => [
    `ClusterAcrAccess pods and nodes, nodeMatch ${m}`,
    (o, ns) => [
      intent(o.cluster, 'pod', ns),
      intent(o.cluster, 'node', ns, { options: { cilium: { podMatch: 'FQDNAndCIDR', nodeMatch: m } } }),
    ],
  ]),
  ['AcrAccess, sharded inline', (o, ns) => [intent(o.acr, 'pod', ns, { prefixes: MANY })], { maxBytesPerObject: 300 }],
  [
    'ClusterAcrAccess, sharded groups',
    (o, ns) => [intent(o.cluster, 'pod', ns, { prefixes: MANY }), intent(o.cluster, 'node', ns, { prefixes: MANY })],
    { maxBytesPerObject: 300 },
  ],
];

/** A real AcrAccess in the namespace and a real ClusterAcrAccess, so the owner references carry live uids. */
async function makeOwners(admin: KubeClient, namespace: string): Promise<Owners> {
  const acr = await admin.create(acrAccess(namespace, 'contoso'));
  const cluster = await admin.create({
    apiVersion: 'acraccess.io/v1alpha1',
    kind: 'ClusterAcrAccess',
    metadata: { name: `cilium-it-${randomBytes(4).toString('hex')}` },
    spec: { registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus'] }, namespaceSelector: {} },
  });
  clusterScoped.set(JSON.stringify(refOf(cluster)), cluster);
  const owner = (o: KubeObject): IntentOwner => ({
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata.name,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    uid: o.metadata.uid!,
  });
  return { acr: owner(acr), cluster: owner(cluster) };
}

async function deleteAll(admin: KubeClient, objects: Iterable<KubeObject>): Promise<void> {
  for (const o of objects) {
    await admin.delete(refOf(o));
    clusterScoped.delete(JSON.stringify(refOf(o)));
  }
}

/** The planned objects, deduplicated by key as the sync does; two different objects under one key fail the test. */
function planAll(intents: EgressIntent[], detection: Detection, opts?: PlanOptions): KubeObject[] {
  const byKey = new Map<string, KubeObject>();
  for (const o of intents.flatMap((i) => ciliumBackend.plan(i, detection, opts))) {
    const key = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (byKey.has(key)) expect(JSON.stringify(o)).toBe(JSON.stringify(byKey.get(key)));
    byKey.set(key, o);
  }
  return [...byKey.values()];
}

const rejection = (p: Promise<unknown>) => p.then(() => undefined).catch((e: unknown) => e);

describe.skipIf(!upstream)('Cilium objects in the real API server', () => {
  afterAll(async () => {
    const admin = clientFor('admin');
    await deleteAll(admin, [...clusterScoped.values()]);
    await installCilium(admin, filesOf(FINAL));
    // Nothing of this file's is left outside its (deleted) namespaces.
    const left: string[] = [];
    for (const [apiVersion, kind] of [
      ['cilium.io/v2', 'CiliumCIDRGroup'],
      ['cilium.io/v2', 'CiliumClusterwideNetworkPolicy'],
      ['acraccess.io/v1alpha1', 'ClusterAcrAccess'],
    ] as const)
      for (const o of (await admin.list(apiVersion, kind)).items)
        if (o.metadata.name.includes('cilium-it-')) left.push(`${kind} ${o.metadata.name}`);
    expect(left).toEqual([]);
  }, 120_000);

  describe('a policy CRD without spec.enableDefaultDeny (Cilium before 1.16)', () => {
    beforeAll(async () => {
      // v1.16.5 with the field taken out: the shape of a 1.15 CRD, as far as this backend is concerned.
      const dir = mkdtempSync(path.join(os.tmpdir(), 'cilium-old-'));
      const files = filesOf('v1.16.5').map((file) => {
        const docs = loadAll(readFileSync(file, 'utf8')) as KubeObject[];
        for (const d of docs) {
          const schema = (d.spec as { versions: { schema: { openAPIV3Schema: Schema } }[] }).versions[0]!.schema;
          const props = schema.openAPIV3Schema.properties;
          delete props?.spec?.properties?.enableDefaultDeny;
          delete props?.specs?.items?.properties?.enableDefaultDeny;
        }
        const out = path.join(dir, path.basename(file));
        writeFileSync(out, docs.map((d) => dump(d)).join('---\n'));
        return out;
      });
      try {
        await installCilium(clientFor('admin'), files);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);

    test('the API server drops the field silently, so detection refuses and nothing is planned', async ({
      namespace,
      admin,
    }) => {
      const owners = await makeOwners(admin, namespace);
      const i = intent(owners.acr, 'pod', namespace, pods('CIDR'));
      const [cnp] = planCilium(i, { cidrGroupVersion: 'cilium.io/v2alpha1' });
      const stored = await admin.create(cnp!);
      // Stored like this, the policy would put the selected pods into egress default deny.
      expect(stored.spec).not.toHaveProperty('enableDefaultDeny');
      expect(stored.spec).toHaveProperty('egress');
      const detection = await detectWhen((d) => !d.served);
      expect(detection.reason).toMatch(
        /CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy lack spec.enableDefaultDeny/,
      );
      expect(() => ciliumBackend.plan(i, detection)).toThrow(/cannot be planned/);
    });
  });

  for (const version of VERSIONS) {
    describe(`upstream CRDs ${version}`, () => {
      let detection: Detection;
      // The newest version the CRD file serves: what detection must choose.
      const groupVersion = () => {
        const [crd] = loadAll(readFileSync(filesOf(version)[2]!, 'utf8')) as KubeObject[];
        const served = (crd!.spec as { versions: { name: string; served: boolean }[] }).versions.filter(
          (v) => v.served,
        );
        return served.some((v) => v.name === 'v2') ? 'cilium.io/v2' : 'cilium.io/v2alpha1';
      };

      beforeAll(async () => {
        await installCilium(clientFor('admin'), filesOf(version));
        detection = await detectWhen((d) => d.served && d.kinds.some((k) => k.apiVersion === groupVersion()));
      }, 120_000);

      test('detection reads the served schemas and picks the newest CiliumCIDRGroup', () => {
        expect(detection.reason).toBe(
          'cilium.io/v2 CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy served with spec.enableDefaultDeny; ' +
            `CiliumCIDRGroup ${groupVersion()}`,
        );
      });

      test.for(CASES)(
        '%s: dry-run and create accepted, stored exactly as planned',
        async ([, make, opts], { namespace, admin }) => {
          const objects = planAll(make(await makeOwners(admin, namespace), namespace), detection, opts);
          expect(objects.length).toBeGreaterThan(0);
          try {
            for (const planned of objects) {
              const dry = await admin.apply(planned, { dryRun: true });
              expect(dry.spec).toEqual(planned.spec);
              expect(await admin.get(refOf(planned))).toBeUndefined();
              const stored = await admin.create(planned);
              if (!stored.metadata.namespace) clusterScoped.set(JSON.stringify(refOf(stored)), stored);
              // Nothing is defaulted or pruned: the sync's field-by-field comparison finds no difference next time.
              expect(stored.spec).toEqual(planned.spec);
              expect(stored.metadata.labels).toEqual(planned.metadata.labels);
              expect(stored.metadata.annotations).toEqual(planned.metadata.annotations);
              expect(stored.metadata.ownerReferences).toEqual(planned.metadata.ownerReferences);
            }
            for (const p of objects.filter((o) => o.kind !== 'CiliumCIDRGroup'))
              expect(p.spec).toMatchObject({ enableDefaultDeny: { egress: false, ingress: false } });
          } finally {
            await deleteAll(
              admin,
              objects.filter((o) => !o.metadata.namespace),
            );
          }
        },
      );

      test('deliberately broken objects are refused, so validation is live', async ({ namespace, admin }) => {
        const owners = await makeOwners(admin, namespace);
        const objects = planAll(
          [intent(owners.cluster, 'pod', namespace), intent(owners.cluster, 'node', namespace)],
          detection,
        );
        const of = (kind: string) => structuredClone(objects.find((o) => o.kind === kind)!);
        const mistyped = of('CiliumNetworkPolicy');
        (mistyped.spec as { enableDefaultDeny: unknown }).enableDefaultDeny = { egress: 'no', ingress: false };
        const badName = of('CiliumNetworkPolicy');
        (badName.spec as { egress: unknown[] }).egress.push({ toFQDNs: [{ matchName: 'not a host!' }] });
        const group = of('CiliumCIDRGroup');
        (group.spec as { externalCIDRs: string[] }).externalCIDRs = ['20.0.0.0/33'];
        const ccnp = of('CiliumClusterwideNetworkPolicy');
        (ccnp.spec as Record<string, unknown>).endpointSelector = {};
        // A value of the wrong type fails server-side apply before validation, with a 500 ("failed to create typed
        // patch object"); a create (how new objects are written) validates it: 422.
        const refused = [
          [mistyped, /enableDefaultDeny.egress/, 'create'],
          [badName, /matchName/, 'apply'],
          [group, /externalCIDRs/, 'apply'],
          [ccnp, /spec/, 'apply'],
        ] as const;
        for (const [obj, message, via] of refused) {
          const write = via === 'create' ? admin.create(obj, { dryRun: true }) : admin.apply(obj, { dryRun: true });
          const err = await rejection(write);
          expect(err, obj.kind).toBeInstanceOf(KubeApiError);
          expect((err as KubeApiError).code, (err as Error).message).toBe(422);
          expect((err as Error).message).toMatch(message);
        }
      });

      if (version === FINAL)
        test(
          'a ClusterAcrAccess’s groups and host policy are garbage-collected with it',
          { timeout: 150_000 },
          async ({ namespace, admin }) => {
            const owners = await makeOwners(admin, namespace);
            const objects = planAll(
              [intent(owners.cluster, 'pod', namespace), intent(owners.cluster, 'node', namespace)],
              detection,
            );
            for (const o of objects) clusterScoped.set(JSON.stringify(refOf(o)), await admin.create(o));
            await admin.delete({
              apiVersion: owners.cluster.apiVersion,
              kind: 'ClusterAcrAccess',
              name: owners.cluster.name,
            });
            // The garbage collector learns new kinds on its 30 s discovery resync; the CRDs may be new.
            for (const o of objects)
              await eventually(
                `${o.kind} ${o.metadata.name} collected`,
                async () => !(await admin.get(refOf(o))),
                120_000,
                500,
              );
          },
        );
    });
  }
});

interface Schema {
  properties?: Record<string, Schema>;
  items?: Schema;
}
