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
import { clientFor, createNamespace, eventually, test } from '../support/cluster.js';
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
    cluster({ namespaceSelector: { matchLabels: { case: 'selected' } }, nodeSelector: {} }),
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
      const offline = await render({
        files: [file],
        backend: 'networkpolicy',
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
        const written = await ownedPolicies(admin, namespace, live);
        expect(written.map(comparable)).toEqual(offline.objects.map(comparable));
        if (rendered.verdict.notes.some((n) => n.reason === 'NotImplemented'))
          expect(condition(live, 'Unsupported')?.message).toBe(
            rendered.verdict.notes.find((n) => n.reason === 'NotImplemented')!.message,
          );
        if (clusterScoped) await admin.delete(ref);
      } finally {
        await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: own });
      }
    });
  }
});

async function ownedPolicies(admin: KubeClient, namespace: string, owner: KubeObject): Promise<KubeObject[]> {
  const list = await admin.list('networking.k8s.io/v1', 'NetworkPolicy', { namespace });
  return list.items
    .filter((np) => np.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid))
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

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
