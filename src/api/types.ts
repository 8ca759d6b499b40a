import type { CloudName } from '../endpoints/clouds.js';
import type { ObjectMeta } from '../kube/types.js';

export const GROUP = 'acraccess.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND_ACR_ACCESS = 'AcrAccess';
export const KIND_CLUSTER_ACR_ACCESS = 'ClusterAcrAccess';

export const CLOUD_NAMES = ['AzurePublicCloud', 'AzureChinaCloud', 'AzureUSGovernment'] as const satisfies CloudName[];
export const DATA_ENDPOINT_MODES = ['Auto', 'Enabled', 'Disabled'] as const;
export const ADDRESS_SOURCES = ['ServiceTags', 'DNS'] as const;
export const IP_FAMILIES = ['IPv4', 'IPv6'] as const;
export const BACKENDS = ['Auto', 'NetworkPolicy', 'Cilium', 'Calico'] as const;
export const MODES = ['Enforce', 'Audit'] as const;

export type DataEndpointsMode = (typeof DATA_ENDPOINT_MODES)[number];
export type AddressSource = (typeof ADDRESS_SOURCES)[number];
export type IpFamily = (typeof IP_FAMILIES)[number];
export type BackendName = (typeof BACKENDS)[number];
export type Mode = (typeof MODES)[number];

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface RegistrySpec {
  resourceId?: string;
  loginServer?: string;
  regions?: string[];
  dataEndpoints?: DataEndpointsMode;
  cloud?: CloudName;
}

export interface DnsEgressSpec {
  enabled?: boolean;
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
}

export const CILIUM_POD_MATCH = ['FQDNAndCIDR', 'CIDR', 'FQDN'] as const;
export const CILIUM_NODE_MATCH = ['CIDR', 'FQDNAndCIDR'] as const;

/** How Cilium policies match the registry: by name (toFQDNs, needs the DNS proxy), by address, or both. */
export interface CiliumSpec {
  podMatch?: (typeof CILIUM_POD_MATCH)[number];
  nodeMatch?: (typeof CILIUM_NODE_MATCH)[number];
}

export interface AcrAccessSpec {
  registry: RegistrySpec;
  cilium?: CiliumSpec;
  podSelector?: LabelSelector;
  addressSources?: AddressSource[];
  ipFamilies?: IpFamily[];
  includeMicrosoftContainerRegistry?: boolean;
  backends?: BackendName[];
  mode?: Mode;
  dnsEgress?: DnsEgressSpec;
}

export interface AzureFirewallPolicySpec {
  resourceId: string;
  ruleCollectionGroup?: string;
  priority?: number;
  sourceAddresses?: string[];
  networkRules?: boolean;
}

export interface NetworkSecurityGroupSpec {
  resourceId: string;
  priority: number;
}

export interface RegistryFirewallSpec {
  enabled: boolean;
  clusterResourceId?: string;
  egressIPs?: string[];
}

export interface AzureSpec {
  firewallPolicy?: AzureFirewallPolicySpec;
  networkSecurityGroups?: NetworkSecurityGroupSpec[];
  registryFirewall?: RegistryFirewallSpec;
}

export interface ClusterAcrAccessSpec extends AcrAccessSpec {
  namespaceSelector?: LabelSelector;
  nodeSelector?: LabelSelector;
  azure?: AzureSpec;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface AcrAccessStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  endpoints?: {
    loginServer?: string;
    dataEndpoints?: string[];
    storage?: string[];
    regions?: string[];
    otherHosts?: string[];
    notInUse?: string[];
    publicNetworkAccess?: string;
    privateEndpoints?: number;
    retiring?: { host: string; since: string; until: string }[];
  };
  addresses?: {
    serviceTagsChangeNumber?: number;
    feedSource?: string;
    prefixCount?: number;
    ipv4Prefixes?: number;
    ipv6Prefixes?: number;
    retiring?: { prefix: string; since: string; until: string }[];
    feedPublished?: string;
    feedAcceptedTime?: string;
  };
  planes?: { pod?: PlaneCoverage; node?: PlaneCoverage };
  objects?: { apiVersion: string; kind: string; namespace?: string; name: string }[];
  backends?: { name: string; planes: ('pod' | 'node')[]; chosen: boolean; reason: string }[];
  /** The operator's ledger of what it last wrote; make-before-break reads it, never the live objects. */
  applied?: { prefixes?: string[]; hosts?: string[]; tags?: string[]; azure?: AzureLedger };
  azure?: {
    targets?: AzureTargetStatus[];
    retiringTags?: { tag: string; since: string; until: string }[];
    retiringEgressIPs?: { address: string; since: string; until: string }[];
  };
}

/** Azure objects holding rules of a resource: ARM rules carry no owner reference, so this says what is ours. */
export interface AzureLedger {
  networkSecurityGroups?: string[];
  ruleCollectionGroups?: string[];
  registryIpRules?: { registryId: string; values?: string[] }[];
}

export interface AzureTargetStatus {
  kind: 'NetworkSecurityGroup' | 'FirewallPolicy' | 'RegistryFirewall';
  resourceId: string;
  state: 'Enforced' | 'Audited' | 'Pending' | 'Failed';
  reason?: string;
  message?: string;
}

export type PlaneCoverage = 'Enforced' | 'Audited' | 'NotCovered';

interface Resource<K extends string, S> {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
  status?: AcrAccessStatus;
  [key: string]: unknown;
}

export type AcrAccess = Resource<typeof KIND_ACR_ACCESS, AcrAccessSpec>;
export type ClusterAcrAccess = Resource<typeof KIND_CLUSTER_ACR_ACCESS, ClusterAcrAccessSpec>;
export type AnyAcrAccess = AcrAccess | ClusterAcrAccess;
