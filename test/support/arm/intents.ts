import type { EgressIntent } from '../../../src/intent/intent.js';

/**
 * A node-plane intent as the pipeline builds one for ClusterAcrAccess `contoso` (uid set) with a registry in
 * `regions`: the registry and storage tags of each region, the login server and data endpoints, optionally MCR.
 */
export function nodeIntent(regions: string[] = ['EastUS'], opts: { mcr?: boolean; uid?: string } = {}): EgressIntent {
  const tags = regions.flatMap((r) => [`AzureContainerRegistry.${r}`, `Storage.${r}`]);
  if (opts.mcr) tags.push('MicrosoftContainerRegistry', 'AzureFrontDoor.FirstParty');
  const hosts = [
    'azurecr.io',
    'contoso.azurecr.io',
    ...regions.map((r) => `contoso.${r.toLowerCase()}.data.azurecr.io`),
  ];
  if (opts.mcr) hosts.push('mcr.microsoft.com', '*.data.mcr.microsoft.com');
  return {
    owner: {
      apiVersion: 'acraccess.io/v1alpha1',
      kind: 'ClusterAcrAccess',
      name: 'contoso',
      uid: opts.uid ?? '6d1b2c3a-0000-4000-8000-000000000001',
    },
    plane: 'node',
    hosts,
    prefixes: { ipv4: ['20.38.0.0/16'], ipv6: [] },
    ports: [{ protocol: 'TCP', port: 443 }],
    workloads: { podSelector: {}, namespaces: [], nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } } },
    options: { cilium: { podMatch: 'FQDNAndCIDR', nodeMatch: 'CIDR' } },
    provenance: {
      feed: { changeNumber: 376, cloud: 'Public', source: 'test' },
      tags: tags.map((name) => ({ name, changeNumber: 1, prefixes: 10 })),
      dns: [],
      origins: {},
    },
  };
}
