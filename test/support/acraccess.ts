import type { AcrAccess, Condition } from '../../src/api/types.js';
import type { KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import { eventually } from './cluster.js';

export function acrAccess(namespace: string, name: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'acraccess.io/v1alpha1',
    kind: 'AcrAccess',
    metadata: { name, namespace },
    spec: {
      registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus'] },
      addressSources: ['ServiceTags'],
      podSelector: { matchLabels: { app: 'puller' } },
      ...spec,
    },
  };
}

export const npRef = (namespace: string, name: string) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  namespace,
  name,
});

/** The ipBlock prefixes of a live NetworkPolicy. */
export function cidrsOf(np: KubeObject | undefined): string[] {
  const egress = (np?.spec as { egress?: { to?: { ipBlock?: { cidr: string } }[] }[] } | undefined)?.egress ?? [];
  return egress.flatMap((r) => (r.to ?? []).flatMap((t) => (t.ipBlock ? [t.ipBlock.cidr] : [])));
}

export function condition(obj: KubeObject | undefined, type: string): Condition | undefined {
  return ((obj?.status as AcrAccess['status'])?.conditions ?? []).find((c) => c.type === type);
}

export async function getAcrAccess(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<AcrAccess | undefined> {
  return client.get<AcrAccess & KubeObject>({
    apiVersion: 'acraccess.io/v1alpha1',
    kind: 'AcrAccess',
    namespace,
    name,
  });
}

/** Waits until the resource's status describes its current generation with the given Ready status. */
export async function waitReady(
  client: KubeClient,
  namespace: string,
  name: string,
  ready: 'True' | 'False' = 'True',
  timeoutMs = 30_000,
): Promise<AcrAccess> {
  return eventually(
    `AcrAccess ${namespace}/${name} Ready=${ready}`,
    async () => {
      const r = await getAcrAccess(client, namespace, name);
      const c = condition(r, 'Ready');
      return r && r.status?.observedGeneration === r.metadata.generation && c?.status === ready ? r : undefined;
    },
    timeoutMs,
  );
}

export async function eventsFor(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<{ reason: string; note: string; type: string }[]> {
  const list = await client.list('events.k8s.io/v1', 'Event', { namespace });
  return list.items
    .filter((e) => (e.regarding as { name?: string } | undefined)?.name === name)
    .map((e) => ({ reason: e.reason as string, note: e.note as string, type: e.type as string }));
}
