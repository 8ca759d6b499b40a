import { KIND_ACR_ACCESS, type AnyAcrAccess, type CiliumSpec, type LabelSelector } from '../api/types.js';
import type { AddressSet } from '../addresses/address-set.js';
import { allHosts, type RegistryEndpoints } from '../endpoints/endpoints.js';

export type Plane = 'pod' | 'node';

export interface IntentOwner {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/**
 * The one backend-neutral value every backend renders from (like external-dns's Endpoint): which workloads may
 * reach which hosts and prefixes on which ports, and where those addresses came from.
 */
export interface EgressIntent {
  owner: IntentOwner;
  plane: Plane;
  /** FQDNs and wildcards, for backends that allow by name. */
  hosts: string[];
  /** Minimal prefix cover per family, for backends that allow by address. */
  prefixes: { ipv4: string[]; ipv6: string[] };
  ports: { protocol: 'TCP'; port: number }[];
  workloads: {
    podSelector: LabelSelector;
    /** Namespaces the pod selector applies in (the owner's own for AcrAccess; selected ones for ClusterAcrAccess). */
    namespaces: string[];
    nodeSelector?: LabelSelector;
  };
  /** Backend options from the spec (defaults applied). */
  options: { cilium: Required<CiliumSpec> };
  /** Where DNS egress goes, or undefined when the DNS rule is disabled. */
  dns?: { namespaceSelector: LabelSelector; podSelector: LabelSelector };
  provenance: Pick<AddressSet, 'feed' | 'tags' | 'dns' | 'origins'>;
}

export const DEFAULT_DNS_TARGET = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};

export function ownerOf(resource: AnyAcrAccess): IntentOwner {
  const owner: IntentOwner = { apiVersion: resource.apiVersion, kind: resource.kind, name: resource.metadata.name };
  if (resource.metadata.namespace) owner.namespace = resource.metadata.namespace;
  if (resource.metadata.uid) owner.uid = resource.metadata.uid;
  return owner;
}

/**
 * The pod-plane intent of an AcrAccess (its own namespace) or ClusterAcrAccess (the namespaces its
 * namespaceSelector matched, resolved by the caller).
 */
export function podPlaneIntent(
  resource: AnyAcrAccess,
  endpoints: RegistryEndpoints,
  addresses: AddressSet,
  selectedNamespaces: string[] = [],
): EgressIntent {
  const namespaces =
    resource.kind === KIND_ACR_ACCESS ? [resource.metadata.namespace ?? 'default'] : [...selectedNamespaces].sort();
  const dnsSpec = resource.spec.dnsEgress;
  const intent: EgressIntent = {
    owner: ownerOf(resource),
    plane: 'pod',
    hosts: allHosts(endpoints),
    prefixes: { ipv4: addresses.ipv4, ipv6: addresses.ipv6 },
    ports: [{ protocol: 'TCP', port: 443 }],
    workloads: { podSelector: resource.spec.podSelector ?? {}, namespaces },
    options: optionsOf(resource),
    provenance: { feed: addresses.feed, tags: addresses.tags, dns: addresses.dns, origins: addresses.origins },
  };
  if (dnsSpec?.enabled !== false) {
    intent.dns = {
      namespaceSelector: dnsSpec?.namespaceSelector ?? DEFAULT_DNS_TARGET.namespaceSelector,
      podSelector: dnsSpec?.podSelector ?? DEFAULT_DNS_TARGET.podSelector,
    };
  }
  return intent;
}

function optionsOf(resource: AnyAcrAccess): EgressIntent['options'] {
  return {
    cilium: {
      podMatch: resource.spec.cilium?.podMatch ?? 'FQDNAndCIDR',
      nodeMatch: resource.spec.cilium?.nodeMatch ?? 'CIDR',
    },
  };
}

/**
 * The node-plane intent of a ClusterAcrAccess with a nodeSelector: host egress of the selected nodes (kubelet and
 * containerd pulls) to the registry. No DNS rule: the host's resolver is not ours to restrict.
 */
export function nodePlaneIntent(
  resource: AnyAcrAccess,
  endpoints: RegistryEndpoints,
  addresses: AddressSet,
): EgressIntent | undefined {
  if (resource.kind === KIND_ACR_ACCESS || !resource.spec.nodeSelector) return undefined;
  const workloads = { podSelector: {}, namespaces: [], nodeSelector: resource.spec.nodeSelector };
  return hostEgress(resource, allHosts(endpoints), addresses, addresses.tags, workloads);
}

/**
 * The Azure-side intent of a ClusterAcrAccess with spec.azure: everything that leaves the cluster through an NSG or
 * a firewall, kubelet pulls and pods alike, to the registry. `tags` are the service tags to allow (retiring ones
 * included), which Azure rules name directly instead of their prefixes.
 */
export function azureIntent(
  resource: AnyAcrAccess,
  hosts: string[],
  addresses: Pick<AddressSet, 'ipv4' | 'ipv6' | 'feed' | 'dns' | 'origins'>,
  tags: AddressSet['tags'],
): EgressIntent {
  return hostEgress(resource, hosts, addresses, tags, { podSelector: {}, namespaces: [] });
}

/** Egress of hosts' own traffic (kubelet, containerd) to the registry on 443: no DNS rule, the node plane. */
function hostEgress(
  resource: AnyAcrAccess,
  hosts: string[],
  addresses: Pick<AddressSet, 'ipv4' | 'ipv6' | 'feed' | 'dns' | 'origins'>,
  tags: AddressSet['tags'],
  workloads: EgressIntent['workloads'],
): EgressIntent {
  return {
    owner: ownerOf(resource),
    plane: 'node',
    hosts,
    prefixes: { ipv4: addresses.ipv4, ipv6: addresses.ipv6 },
    ports: [{ protocol: 'TCP', port: 443 }],
    workloads,
    options: optionsOf(resource),
    provenance: { feed: addresses.feed, tags, dns: addresses.dns, origins: addresses.origins },
  };
}
