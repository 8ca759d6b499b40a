import {
  ADDRESS_SOURCES,
  BACKENDS,
  CILIUM_NODE_MATCH,
  CILIUM_POD_MATCH,
  CLOUD_NAMES,
  DATA_ENDPOINT_MODES,
  IP_FAMILIES,
  MODES,
} from './types.js';
import { bool, enumOf, int, labelSelector, list, obj, str, type Rule, type Schema } from './schema-helpers.js';
import { MESSAGES, PATTERNS, RULES } from './rules.js';

// Patterns, rules and messages live in rules.ts (shared with the offline validator); re-exported for callers.
export { MESSAGES, PATTERNS, RULES } from './rules.js';
export const UNIQUE_RULE = RULES.unique;

/**
 * Lists that are sets in meaning are atomic with a uniqueness rule rather than x-kubernetes-list-type: set:
 * server-side apply (kubectl --server-side, Flux) answers a duplicate in a set-typed list with HTTP 500
 * "duplicate entries for key", while this rule gives a 422 that says what is wrong.
 */
const unique = (extra: Schema = {}): Schema => ({
  'x-kubernetes-list-type': 'atomic',
  ...extra,
  'x-kubernetes-validations': [
    ...((extra['x-kubernetes-validations'] as unknown[] | undefined) ?? []),
    { rule: UNIQUE_RULE, message: MESSAGES.unique },
  ],
});

const registry = obj(
  'The Azure Container Registry to reach: its ARM resource id (the operator discovers it from Azure Resource Manager) or its login server with the regions it is replicated to.',
  {
    resourceId: str(
      'ARM resource id of the registry: the login server, data endpoints and replica regions are read from Azure Resource Manager on every refresh. Needs the operator to run with --azure-subscription (Helm: azure.subscriptionId); without it the resource is Stalled (DiscoveryUnavailable), and render, which has no Azure access, refuses it the same way.',
      {
        maxLength: 512,
        'x-kubernetes-validations': [{ rule: RULES.armId(PATTERNS.registryResourceId), message: MESSAGES.resourceId }],
      },
    ),
    loginServer: str('Login server of the registry, e.g. contoso.azurecr.io; regions is then required.', {
      maxLength: 253,
      'x-kubernetes-validations': [{ rule: RULES.matches(PATTERNS.loginServer), message: MESSAGES.loginServer }],
    }),
    regions: list(
      'ARM location names of the home region and every geo-replica (e.g. eastus, westeurope; not Service Tags region codes such as germanyn). Required with loginServer.',
      str('An ARM location name.', {
        maxLength: 40,
        'x-kubernetes-validations': [{ rule: RULES.matches(PATTERNS.region), message: MESSAGES.region }],
      }),
      unique({ maxItems: 64 }),
    ),
    dataEndpoints: enumOf(
      'How layer blobs are served. Enabled: dedicated data endpoints <name>.<region>.data.azurecr.io (Premium). Disabled: storage redirects to *.blob.core.windows.net. Auto: both are allowed, so pulls work either way; data endpoints DNS says do not exist are listed as not in use.',
      DATA_ENDPOINT_MODES,
      { default: 'Auto' },
    ),
    cloud: enumOf(
      'Azure cloud of the registry. Defaults from the login server suffix (azurecr.io public, azurecr.cn China, azurecr.us US Government).',
      CLOUD_NAMES,
    ),
  },
  {
    rules: [
      { rule: 'has(self.resourceId) != has(self.loginServer)', message: MESSAGES.exactlyOneRegistry },
      {
        rule: 'has(self.resourceId) || (has(self.regions) && size(self.regions) > 0)',
        message: MESSAGES.regionsRequired,
        fieldPath: '.regions',
        reason: 'FieldValueRequired',
      },
      {
        rule: "!has(self.cloud) || !has(self.loginServer) || self.loginServer.endsWith(self.cloud == 'AzureChinaCloud' ? '.azurecr.cn' : self.cloud == 'AzureUSGovernment' ? '.azurecr.us' : '.azurecr.io')",
        message: MESSAGES.cloudSuffix,
        fieldPath: '.loginServer',
      },
    ],
  },
);

const dnsEgress = obj(
  'Egress to the cluster DNS that pods need to resolve registry names. Enabled by default, to kube-dns in kube-system; point it elsewhere for NodeLocal DNSCache or a custom DNS, or disable it when another policy already allows DNS.',
  {
    enabled: bool('Add the DNS egress rule (UDP and TCP port 53).', { default: true }),
    namespaceSelector: labelSelector('Namespaces of the DNS pods. Default: kubernetes.io/metadata.name=kube-system.'),
    podSelector: labelSelector('DNS pods. Default: k8s-app=kube-dns.'),
  },
);

function commonSpec(podSelectorDescription: string): Record<string, Schema> {
  return {
    registry,
    podSelector: labelSelector(podSelectorDescription),
    addressSources: list(
      'Where IP addresses come from for backends that need addresses rather than names: the Azure Service Tags feed (AzureContainerRegistry.<region> and Storage.<region>) and DNS answers for every endpoint host (which also covers private endpoints). DNS cannot resolve wildcard hosts, so DNS alone needs registry.dataEndpoints: Enabled and includeMicrosoftContainerRegistry: false.',
      enumOf('An address source.', ADDRESS_SOURCES),
      unique({ default: ['ServiceTags', 'DNS'], minItems: 1, maxItems: 2 }),
    ),
    ipFamilies: list(
      'IP families to allow.',
      enumOf('An IP family.', IP_FAMILIES),
      unique({ default: ['IPv4', 'IPv6'], minItems: 1, maxItems: 2 }),
    ),
    includeMicrosoftContainerRegistry: bool(
      "Also allow Microsoft Container Registry (the cloud's MCR hosts; Service Tags MicrosoftContainerRegistry, plus AzureFrontDoor.FirstParty in the public cloud, whose China and US Government feeds have no such tag).",
      { default: false },
    ),
    backends: list(
      'Kubernetes enforcement points to write. Auto: every CNI policy engine the cluster serves (Cilium, Calico: pod and node plane), else Kubernetes NetworkPolicy (pod plane only). A named backend the cluster does not serve, or the operator is not allowed to use, Stalls the resource (BackendUnavailable). Azure-side rules are in spec.azure (ClusterAcrAccess).',
      enumOf('A backend.', BACKENDS),
      unique({
        default: ['Auto'],
        minItems: 1,
        maxItems: 4,
        'x-kubernetes-validations': [{ rule: "!('Auto' in self) || size(self) == 1", message: MESSAGES.backendsAuto }],
      }),
    ),
    mode: enumOf(
      'Enforce writes the policies. Audit computes and reports them in status without writing anything.',
      MODES,
      { default: 'Enforce' },
    ),
    dnsEgress,
    cilium: obj(
      'How Cilium policies match the registry (backend Cilium). Every Cilium policy the operator writes sets enableDefaultDeny {egress: false, ingress: false}: it only adds allows and never turns on default-deny for the pods or nodes it selects.',
      {
        podMatch: enumOf(
          'Pods: FQDNAndCIDR (default) allows by address (toCIDRSet) and by name (toFQDNs, in a separate policy that needs the Cilium L7 DNS proxy); CIDR only for clusters without the DNS proxy (e.g. AKS Cilium without FQDN filtering); FQDN only to avoid opening whole Storage ranges.',
          CILIUM_POD_MATCH,
          { default: 'FQDNAndCIDR' },
        ),
        nodeMatch: enumOf(
          'Nodes (ClusterAcrAccess with nodeSelector): CIDR (default) allows host egress by address. FQDNAndCIDR adds host toFQDNs, which is beta in Cilium and sends host DNS through the agent proxy: while the agent restarts, DNS of the node fails and so do image pulls.',
          CILIUM_NODE_MATCH,
          { default: 'CIDR' },
        ),
      },
    ),
  };
}

/** An ARM id of one resource type: a generic pattern lets `..`, empty segments and ids of other types through. */
const armId = (description: string, pattern: string, message: string) =>
  str(description, {
    maxLength: 1024,
    'x-kubernetes-validations': [{ rule: RULES.armId(pattern), message }],
  });

const azure = obj(
  'Azure-side egress rules kept in step with the registry: everything leaving the cluster, kubelet image pulls included, passes these. Written by the operator when it runs with --azure-subscription (Helm: azure.subscriptionId), with its own Azure identity; without it the AzureApplied condition says they are not acted on. What the operator wrote is removed when the resource is deleted (finalizer acraccess.io/azure-cleanup).',
  {
    firewallPolicy: obj(
      'An Azure Firewall policy: the operator owns one rule collection group in it with application rules for the registry hosts.',
      {
        resourceId: armId(
          'ARM resource id of the firewall policy (Microsoft.Network/firewallPolicies).',
          PATTERNS.firewallPolicyId,
          MESSAGES.firewallPolicyId,
        ),
        ruleCollectionGroup: str(
          'Name of the rule collection group the operator owns (whole: it is written and deleted as one). Default: acr-access-<hash of this resource>, so resources sharing a policy never collide. A group of that name the operator did not create is refused (NameConflict), never overwritten.',
          { maxLength: 80, pattern: '^[a-zA-Z0-9][-a-zA-Z0-9_.]*$' },
        ),
        priority: int(
          'Priority of the rule collection group (100-65000). Default 250: ahead of the portal default (300) for application rule collections, so a Deny collection created there does not shadow the registry.',
          { minimum: 100, maximum: 65000 },
        ),
        sourceAddresses: list(
          'Source addresses of the rules (the node subnets, e.g. 10.224.0.0/16). Default: * (the firewall sees only traffic routed to it).',
          str('An IPv4 address or CIDR prefix, or *.', {
            maxLength: 43,
            'x-kubernetes-validations': [{ rule: RULES.firewallSource, message: MESSAGES.firewallSource }],
          }),
          unique({ maxItems: 64 }),
        ),
        networkRules: bool(
          'Also allow TCP 443 to the AzureContainerRegistry.<Region> / Storage.<Region> service tags with a network rule (for clients that send no SNI). Admits every registry and storage account of those regions; default false.',
        ),
      },
      { required: ['resourceId'] },
    ),
    networkSecurityGroups: list(
      'Network security groups that get an outbound allow rule to the registry Service Tags.',
      obj(
        'One network security group and the priority of the operator rule in it.',
        {
          resourceId: armId(
            'ARM resource id of the network security group.',
            PATTERNS.networkSecurityGroupId,
            MESSAGES.networkSecurityGroupId,
          ),
          priority: int('Rule priority (100-4096); it must not collide with existing rules.', {
            minimum: 100,
            maximum: 4096,
          }),
        },
        { required: ['resourceId', 'priority'] },
      ),
      {
        'x-kubernetes-list-type': 'atomic',
        maxItems: 32,
        'x-kubernetes-validations': [
          { rule: RULES.networkSecurityGroupsUnique, message: MESSAGES.networkSecurityGroupsUnique },
        ],
      },
    ),
    registryFirewall: obj(
      "Keep the registry's own IP firewall (networkRuleSet.ipRules) allowing the cluster's egress IPs.",
      {
        enabled: bool('Manage the registry IP rules.'),
        clusterResourceId: armId(
          'ARM id of the AKS cluster (Microsoft.ContainerService/managedClusters) whose effective outbound IPs are allowed.',
          PATTERNS.managedClusterId,
          MESSAGES.managedClusterId,
        ),
        egressIPs: list(
          'Explicit egress IPv4 addresses or prefixes to allow (ACR IP rules take IPv4 only).',
          str('An IPv4 address or CIDR prefix without host bits.', {
            // Long enough for an IPv6 text, so that one gets the IPv4-only message rather than "too long".
            maxLength: 43,
            'x-kubernetes-validations': [{ rule: RULES.egressIP, message: MESSAGES.egressIP }],
          }),
          unique({ maxItems: 100 }),
        ),
      },
      {
        required: ['enabled'],
        rules: [
          {
            rule: '!self.enabled || has(self.clusterResourceId) || (has(self.egressIPs) && size(self.egressIPs) > 0)',
            message: MESSAGES.registryFirewallSource,
          },
        ],
      },
    ),
  },
);

/**
 * DNS answers cover exact hosts only. Without ServiceTags a wildcard host (the storage accounts behind layer
 * downloads, MCR's data hosts) would be allowed by nothing, so pulls would fail while the resource says Ready.
 */
const specRules: Rule[] = [
  { rule: RULES.dnsOnlyStorage, message: MESSAGES.dnsOnlyStorage, fieldPath: '.addressSources' },
  { rule: RULES.dnsOnlyMcr, message: MESSAGES.dnsOnlyMcr, fieldPath: '.addressSources' },
];

export const acrAccessSpecSchema = obj(
  'Egress for pods of this namespace to one Azure Container Registry (pod plane only: image pulls by the kubelet are the node plane, covered by ClusterAcrAccess).',
  commonSpec('Pods of this namespace the access is for. Empty selects every pod in the namespace.'),
  { required: ['registry'], rules: specRules },
);

export const clusterAcrAccessSpecSchema = obj(
  'Cluster-wide access to one Azure Container Registry: pods across namespaces, nodes (kubelet image pulls) through Cilium or Calico, and Azure-side egress rules (NSG, Azure Firewall policy, the registry IP firewall).',
  {
    ...commonSpec('Pods the access is for, in the namespaces selected by namespaceSelector. Empty selects every pod.'),
    namespaceSelector: labelSelector('Namespaces whose pods get access. Unset: no pod-plane policies are written.'),
    nodeSelector: labelSelector(
      'Nodes whose host network gets access: kubelet and containerd image pulls (node plane), through the Cilium host firewall (CiliumClusterwideNetworkPolicy) or Calico host endpoints (GlobalNetworkPolicy). Unset: no node-plane policies; Kubernetes NetworkPolicy cannot cover this plane.',
    ),
    azure,
  },
  { required: ['registry'], rules: specRules },
);

export { statusSchema } from './schema-status.js';
