// What each backend writes for one resource: objects and bytes, as ratios against Kubernetes NetworkPolicy, and the
// time to plan them. Planning is what render and the operator share, so this is also what a reconcile serializes.
import type { AnyAcrAccess } from '../src/api/types.js';
import { EmbeddedSnapshotSource } from '../src/addresses/sources.js';
import { BUILT_IN_BACKENDS, BackendRegistry, assumedServed, planChosen } from '../src/backends/registry.js';
import { SpecEndpointResolver } from '../src/endpoints/endpoints.js';
import { resolveResource } from '../src/intent/pipeline.js';
import { measure, report } from './harness.js';

const registry = { loginServer: 'contoso.azurecr.io', regions: ['eastus', 'westeurope'] };
const CASES: [string, AnyAcrAccess][] = [
  [
    'AcrAccess, 2 regions',
    {
      apiVersion: 'acraccess.io/v1alpha1',
      kind: 'AcrAccess',
      metadata: { name: 'contoso', namespace: 'flux-system', uid: 'u1' },
      spec: { registry, addressSources: ['ServiceTags'] },
    },
  ],
  [
    'ClusterAcrAccess, 2 regions, 10 namespaces + nodes',
    {
      apiVersion: 'acraccess.io/v1alpha1',
      kind: 'ClusterAcrAccess',
      metadata: { name: 'contoso', uid: 'u2' },
      spec: { registry, addressSources: ['ServiceTags'], namespaceSelector: {}, nodeSelector: {} },
    },
  ],
];

export async function runBackendBenchmarks(): Promise<void> {
  for (const [label, resource] of CASES) {
    const { intents } = await resolveResource(resource, {
      endpoints: new SpecEndpointResolver(),
      feedFor: (e) => new EmbeddedSnapshotSource(e.cloud.name).load(),
      namespacesFor: async () => Array.from({ length: 10 }, (_, i) => `team-${i}`),
    });
    const planWith = async (name: 'NetworkPolicy' | 'Cilium' | 'Calico') => {
      const r = new BackendRegistry(BUILT_IN_BACKENDS, [name]);
      await r.detect(assumedServed(BUILT_IN_BACKENDS.filter((b) => b.name === name)));
      const choice = r.choose({ ...resource, spec: { ...resource.spec, backends: [name] } });
      return () => planChosen(choice, intents);
    };
    const baseline = await planWith('NetworkPolicy');
    const base = baseline().objects;
    const bytes = (objects: unknown[]) => objects.reduce<number>((n, o) => n + JSON.stringify(o).length, 0);
    for (const name of ['Cilium', 'Calico'] as const) {
      const plan = await planWith(name);
      const planned = plan();
      const objects = [...planned.prerequisites, ...planned.objects];
      console.log(
        `${label}, ${name}: ${objects.length} objects, ${bytes(objects)} bytes (planes ${planned.covered.join('+')}) vs NetworkPolicy ${base.length} objects, ${bytes(base)} bytes = ${(bytes(objects) / bytes(base)).toFixed(2)}x bytes`,
      );
      report(`${label}, plan ${name}`, measure(plan), 'plan NetworkPolicy', measure(baseline));
    }
  }
}
