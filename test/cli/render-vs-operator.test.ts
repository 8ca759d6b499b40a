import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest';
import { dump, load } from 'js-yaml';
import { render } from '../../src/cli/render.js';
import type { Operator } from '../../src/controller/operator.js';
import type { KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import { condition } from '../support/acraccess.js';
import { clientFor, controlPlane, createNamespace, eventually, installCrds, test } from '../support/cluster.js';
import { BUILT_IN_BACKENDS } from '../../src/backends/registry.js';
import { BACKEND_NAMES } from '../../src/cli/flags.js';
import { TestDnsServer } from '../support/dns-server.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../support/operator.js';

/**
 * render is the operator, offline: for each case the same document goes through `render` and through the operator
 * on the real control plane, and both must reach the same verdict — the same objects byte for byte (but for the
 * owner's uid, which only a cluster has), or the same refusal reason and message.
 */

let operator: Operator | undefined;
let dir: string;
const dns = new TestDnsServer({
  'contoso.azurecr.io': { A: ['192.0.2.7'], ttl: 300 },
  'mcr.microsoft.com': { A: ['192.0.2.20'], AAAA: ['2001:db8::20'], ttl: 300 },
});
let dnsServer: string;
const ALLOWED = ['*.azurecr.io'];

beforeAll(async () => {
  await installOperatorPrerequisites(clientFor('admin'));
  dir = await mkdtemp(path.join(os.tmpdir(), 'render-vs-operator-'));
  dnsServer = await dns.start();
});
afterAll(() => dns.stop());
afterEach(async () => {
  await operator?.stop();
  operator = undefined;
});

const registry = { loginServer: 'contoso.azurecr.io', regions: ['eastus'] };
const acr = (spec: Record<string, unknown>) => ({
  apiVersion: 'acraccess.io/v1alpha1',
  kind: 'AcrAccess',
  metadata: { name: 'case' },
  spec: { registry, addressSources: ['ServiceTags'], ...spec },
});
const cluster = (spec: Record<string, unknown>) => ({ ...acr(spec), kind: 'ClusterAcrAccess' });

const CASES: Record<string, () => Promise<Record<string, unknown>>> = {
  'examples/acraccess.yaml': () => example('examples/acraccess.yaml'),
  'examples/clusteracraccess.yaml': () => example('examples/clusteracraccess.yaml'),
  'two regions, dedicated data endpoints, no DNS rule': async () =>
    acr({
      registry: { ...registry, regions: ['eastus', 'westeurope'], dataEndpoints: 'Enabled' },
      dnsEgress: { enabled: false },
    }),
  'Service Tags and DNS, MCR included': async () =>
    acr({ addressSources: ['ServiceTags', 'DNS'], includeMicrosoftContainerRegistry: true }),
  'a registry outside the allowed ones': async () =>
    acr({ registry: { ...registry, loginServer: 'fabrikam.azurecr.cn' } }),
  'a planned backend': async () => acr({ backends: ['Cilium'] }),
  'resourceId without discovery': async () =>
    acr({
      registry: {
        resourceId:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contoso',
      },
    }),
  'a Service Tags region code instead of a location': async () =>
    acr({ registry: { ...registry, regions: ['germanyn'] } }),
  'a location no registry tag names': async () => acr({ registry: { ...registry, regions: ['eastus2stage'] } }),
  'Audit mode': async () => acr({ mode: 'Audit' }),
  'a ClusterAcrAccess without namespaceSelector': async () => cluster({}),
  'a ClusterAcrAccess with fields not acted on yet': async () =>
    cluster({ namespaceSelector: { matchLabels: { case: 'selected' } }, azure: {} }),
  'Cilium: an AcrAccess, addresses and names': async () => acr({ backends: ['Cilium'] }),
  'Cilium: a ClusterAcrAccess on both planes': async () =>
    cluster({ backends: ['Cilium'], namespaceSelector: { matchLabels: { case: 'selected' } }, nodeSelector: {} }),
  'Calico: a ClusterAcrAccess on both planes': async () =>
    cluster({ backends: ['Calico'], namespaceSelector: { matchLabels: { case: 'selected' } }, nodeSelector: {} }),
};

/** Cases for a CNI backend: its upstream CRDs are installed, the operator may use it and render is told to plan it. */
const CNI: Record<string, { backend: 'cilium' | 'calico'; crds: string }> = {
  'Cilium: an AcrAccess, addresses and names': { backend: 'cilium', crds: 'crds/cilium/v1.19.0-pre.4' },
  'Cilium: a ClusterAcrAccess on both planes': { backend: 'cilium', crds: 'crds/cilium/v1.19.0-pre.4' },
  'Calico: a ClusterAcrAccess on both planes': { backend: 'calico', crds: 'crds/calico/projectcalico.org_v3' },
};

async function example(file: string): Promise<Record<string, unknown>> {
  return load(await readFile(file, 'utf8')) as Record<string, unknown>;
}

describe('render and the operator reach the same verdict', () => {
  for (const [name, make] of Object.entries(CASES)) {
    test(name, async ({ namespace, admin }) => {
      const doc = structuredClone(await make()) as KubeObject;
      const clusterScoped = doc.kind === 'ClusterAcrAccess';
      // Each case in its own namespace; a ClusterAcrAccess selects it by a label the case gives it.
      doc.metadata = clusterScoped ? { name: `${doc.metadata.name}-${namespace}` } : { ...doc.metadata, namespace };
      const selector = (doc.spec as { namespaceSelector?: { matchLabels?: Record<string, string> } }).namespaceSelector;
      if (selector?.matchLabels)
        await admin.apply({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: namespace, labels: selector.matchLabels },
        });
      const file = path.join(dir, `${namespace}.yaml`);
      await writeFile(file, dump(doc));
      const cni = CNI[name];
      if (cni) {
        const crdDir = path.join(controlPlane().upstreamDir, cni.crds);
        const files = readdirSync(crdDir).filter((f) => f.endsWith('.yaml'));
        await installCrds(
          admin,
          files.map((f) => path.join(crdDir, f)),
        );
      }
      const offline = await render({
        files: [file],
        backend: cni?.backend ?? 'networkpolicy',
        output: 'yaml',
        dns: [dnsServer],
        namespaces: selector ? [namespace] : [],
        serviceTags: [{ kind: 'embedded' }],
        allowedRegistries: ALLOWED,
      });

      const own = await createNamespace(admin, 'operator');
      await bindOperatorNamespace(admin, own);
      operator = await startTestOperator(own, {
        watchedNamespaces: [namespace],
        allowedRegistries: ALLOWED,
        dns: [dnsServer],
        ...(cni ? { backends: ['NetworkPolicy', BACKEND_NAMES[cni.backend]] } : {}),
      });
      try {
        await admin.apply(doc);
        const ref = {
          apiVersion: doc.apiVersion,
          kind: doc.kind,
          name: doc.metadata.name,
          ...(clusterScoped ? {} : { namespace }),
        };
        const live = await eventually(`${doc.kind} status for its generation`, async () => {
          const r = await admin.get(ref);
          const status = r?.status as { observedGeneration?: number } | undefined;
          return r && status?.observedGeneration === r.metadata.generation && condition(r, 'Ready') ? r : undefined;
        });
        await operator.manager.idle();
        const rendered = offline.resources[0]!;
        const refusal = rendered.refusal ?? rendered.failure;
        if (refusal) {
          expect(condition(live, 'Stalled')).toMatchObject({
            status: 'True',
            reason: refusal.reason,
            message: refusal.message,
          });
          expect(offline.objects).toEqual([]);
        } else {
          expect(condition(live, 'Ready')?.status).toBe('True');
        }
        // The Tier is a shared prerequisite, owned by nobody: compared on its own.
        const planned = offline.objects.filter((o) => o.kind !== 'Tier');
        const written = await ownedObjects(
          admin,
          namespace,
          live,
          new Set(planned.map((o) => `${o.apiVersion}/${o.kind}`)),
        );
        expect(written).toEqual(planned.map(comparable).sort(byKey));
        for (const tier of offline.objects.filter((o) => o.kind === 'Tier'))
          expect(
            (await admin.get({ apiVersion: tier.apiVersion, kind: 'Tier', name: tier.metadata.name }))?.spec,
          ).toEqual(tier.spec);
        if (rendered.verdict.notes.some((n) => n.reason === 'AzureNotConfigured'))
          expect(condition(live, 'AzureApplied')?.message).toBe(
            rendered.verdict.notes.find((n) => n.reason === 'AzureNotConfigured')!.message,
          );
        if (clusterScoped) await admin.delete(ref);
      } finally {
        await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: own });
      }
    });
  }
});

/** Every object of every backend's kinds (those served) that the owner controls, in the test namespace or cluster-wide. */
async function ownedObjects(
  admin: KubeClient,
  namespace: string,
  owner: KubeObject,
  /** `apiVersion/kind` of every planned object. */
  versions: Set<string>,
): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  const kinds = new Map(BUILT_IN_BACKENDS.flatMap((b) => b.kinds).map((k) => [`${k.apiVersion}/${k.kind}`, k]));
  for (const k of kinds.values()) {
    // A CRD serving two versions lists each object under both: read it at the version that was planned.
    const group = (v: string) => v.split('/')[0];
    const otherVersionPlanned = [...versions].some(
      (v) => v.endsWith(`/${k.kind}`) && group(v) === group(k.apiVersion) && v !== `${k.apiVersion}/${k.kind}`,
    );
    if (otherVersionPlanned) continue;
    if (!(await admin.discovery.isServed(k.apiVersion, k.kind))) continue;
    const list = await admin.list(k.apiVersion, k.kind, k.namespaced ? { namespace } : {});
    out.push(...list.items.filter((o) => o.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid)));
  }
  return out.map(comparable).sort(byKey) as unknown as KubeObject[];
}

const byKey = (
  a: { kind: string; name: string; namespace?: string },
  b: { kind: string; name: string; namespace?: string },
) => `${a.kind}/${a.namespace ?? ''}/${a.name}`.localeCompare(`${b.kind}/${b.namespace ?? ''}/${b.name}`);

/** What the operator decides about an object; what only a cluster adds (uid, managed fields, versions) is left out. */
function comparable(o: KubeObject) {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata.name,
    namespace: o.metadata.namespace,
    labels: o.metadata.labels,
    annotations: o.metadata.annotations,
    spec: o.spec,
  };
}
