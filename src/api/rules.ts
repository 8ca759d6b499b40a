// The regular expressions, CEL rules and messages of the CRD schema, in one place so the schema (src/api/schema.ts)
// and its offline twin (src/api/validate.ts) use the very same text.

const GUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** ARM resource group names: 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending with '.' (so no `..`). */
const RESOURCE_GROUP = '[-\\w.()]{0,89}[-\\w()]';
/** Lowercased ARM id up to the provider namespace; the rest names the type and the resource. */
const armIdOf = (providerAndType: string, name: string) =>
  `^/subscriptions/${GUID}/resourcegroups/${RESOURCE_GROUP}/providers/${providerAndType}/${name}$`;
/** Network resource names (NSG, firewall policy): 1-80 of letters, digits, '_', '-', '.'; start alphanumeric, end alphanumeric or '_'. */
const NETWORK_NAME = '[a-z0-9]([-\\w.]{0,78}[a-z0-9_])?';

/** Kubernetes label syntax (apimachinery IsQualifiedName, IsValidLabelValue). */
const DNS1123_SUBDOMAIN = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const LABEL_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';

/** Regular expressions shared by the CRD's CEL rules and the offline validator, so both judge alike. */
export const PATTERNS = {
  loginServer: '^[a-z0-9]{5,50}(-[a-z0-9]{1,32})?\\.azurecr\\.(io|cn|us)$',
  /** ARM ids below are matched against the lowercased id: ARM ids are case-insensitive. */
  registryResourceId: armIdOf('microsoft\\.containerregistry/registries', '[a-z0-9]{5,50}'),
  firewallPolicyId: armIdOf('microsoft\\.network/firewallpolicies', NETWORK_NAME),
  networkSecurityGroupId: armIdOf('microsoft\\.network/networksecuritygroups', NETWORK_NAME),
  /** AKS cluster names: 1-63 letters, digits, '_' and '-', starting and ending with a letter or digit. */
  managedClusterId: armIdOf('microsoft\\.containerservice/managedclusters', '[a-z0-9]([-\\w]{0,61}[a-z0-9])?'),
  region: '^[a-z][a-z0-9]{1,39}$',
  /** A label key: optional DNS subdomain prefix and '/', then a name of at most 63 characters. */
  labelKey: `^(${DNS1123_SUBDOMAIN}/)?${LABEL_NAME}$`,
  /** Matches a key whose prefix is longer than the 253 characters a DNS subdomain may have. */
  labelKeyLongPrefix: '^[^/]{254,}/',
  /** A label value: empty, or at most 63 characters starting and ending with a letter or digit. */
  labelValue: '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$',
};

const LABEL_KEY_RULES =
  "an optional DNS subdomain prefix of at most 253 characters and '/', then a name of 1-63 letters, digits, '-', '_' or '.' starting and ending with a letter or digit";
const LABEL_VALUE_RULES = "empty, or 1-63 letters, digits, '-', '_' or '.' starting and ending with a letter or digit";
const armIdMessage = (what: string, providerAndType: string) =>
  `must be the ARM resource id of ${what}: /subscriptions/<subscription id>/resourceGroups/<group>/providers/${providerAndType}/<name>, with no empty or '..' segments and no trailing '/'`;

export const MESSAGES = {
  exactlyOneRegistry: 'set exactly one of registry.resourceId or registry.loginServer',
  regionsRequired:
    'registry.regions is required when registry.loginServer is used: list the home region and every replica region',
  loginServer:
    'loginServer must be <registry name>.azurecr.io (.azurecr.cn in Azure China, .azurecr.us in US Government), all lowercase, with a 5-50 character name of letters and digits',
  cloudSuffix:
    'loginServer does not belong to registry.cloud: AzurePublicCloud uses .azurecr.io, AzureChinaCloud .azurecr.cn, AzureUSGovernment .azurecr.us',
  resourceId:
    'resourceId must look like /subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name> (name: 5-50 letters and digits)',
  region: 'regions are ARM location names in lowercase letters and digits, e.g. eastus, westeurope',
  backendsAuto: 'backends: Auto picks the backends by itself and cannot be combined with named backends',
  firewallPolicyId: armIdMessage('an Azure Firewall policy', 'Microsoft.Network/firewallPolicies'),
  networkSecurityGroupId: armIdMessage('a network security group', 'Microsoft.Network/networkSecurityGroups'),
  managedClusterId: armIdMessage('an AKS cluster', 'Microsoft.ContainerService/managedClusters'),
  networkSecurityGroupsUnique:
    'must not list the same network security group twice (resource ids compare case-insensitively); one rule per group is written',
  registryFirewallSource: 'registryFirewall needs clusterResourceId or egressIPs when enabled',
  egressIP:
    'egressIPs entries are IPv4 addresses (20.1.2.3) or IPv4 CIDR prefixes without host bits (20.1.2.0/28): the registry firewall accepts IPv4 only',
  firewallSource:
    'sourceAddresses entries are *, an IPv4 address (10.224.0.4) or an IPv4 CIDR prefix without host bits (10.224.0.0/16)',
  unique: 'must not list the same value twice',
  selectorKey: `must be a label key: ${LABEL_KEY_RULES}`,
  selectorValue: `must be a label value: ${LABEL_VALUE_RULES}`,
  matchLabelsKeys: `matchLabels keys must be label keys: ${LABEL_KEY_RULES}`,
  matchLabelsValues: `matchLabels values must be label values: ${LABEL_VALUE_RULES}`,
  valuesRequired: 'must not be empty when operator is In or NotIn',
  valuesForbidden: 'must be empty when operator is Exists or DoesNotExist',
  dnsOnlyStorage:
    'addressSources without ServiceTags cannot allow layer downloads from storage: with registry.dataEndpoints Auto or Disabled the registry redirects pulls to the wildcard *.blob.core.windows.net (or its sovereign-cloud twin), which DNS cannot resolve, so pulls would fail. Add ServiceTags to addressSources, or set registry.dataEndpoints: Enabled if the registry has dedicated data endpoints',
  dnsOnlyMcr:
    'addressSources without ServiceTags cannot allow Microsoft Container Registry: MCR serves layers from the wildcard *.data.mcr.microsoft.com, which DNS cannot resolve, so pulls would fail. Add ServiceTags to addressSources, or set includeMicrosoftContainerRegistry: false',
};

/** A CEL raw string literal: the pattern goes in as written. */
const quoted = (re: string) => `r'${re}'`;
const LABEL_KEY_CHECK = (v: string) =>
  `${v}.matches(${quoted(PATTERNS.labelKey)}) && !${v}.matches(${quoted(PATTERNS.labelKeyLongPrefix)})`;

/** CEL rules written once; validate.ts keys its JavaScript twins by these strings. */
export const RULES = {
  unique: 'self.all(x, self.exists_one(y, y == x))',
  matches: (pattern: string) => `self.matches(${quoted(pattern)})`,
  /** ARM ids are case-insensitive, so the id is lowercased before matching a lowercase pattern. */
  armId: (pattern: string) => `self.lowerAscii().matches(${quoted(pattern)})`,
  labelKey: LABEL_KEY_CHECK('self'),
  /** Map keys carry no maxLength, so the size check bounds the regex work at run time. */
  matchLabelsKeys: `self.all(k, size(k) <= 317 && ${LABEL_KEY_CHECK('k')})`,
  matchLabelsValues: `self.all(k, self[k].matches(${quoted(PATTERNS.labelValue)}))`,
  valuesRequired: "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
  valuesForbidden: "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
  networkSecurityGroupsUnique:
    'self.all(x, self.exists_one(y, y.resourceId.lowerAscii() == x.resourceId.lowerAscii()))',
  /** Kubernetes' CEL IP/CIDR library (1.30+); ACR IP rules take IPv4 only. */
  egressIP:
    'isIP(self) ? ip(self).family() == 4 : isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self) == cidr(self).masked()',
  firewallSource:
    "self == '*' || (isIP(self) ? ip(self).family() == 4 : isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self) == cidr(self).masked())",
  /** An empty list is left to minItems, so it is not reported twice. */
  dnsOnlyStorage:
    "!has(self.addressSources) || size(self.addressSources) == 0 || 'ServiceTags' in self.addressSources || (has(self.registry.dataEndpoints) && self.registry.dataEndpoints == 'Enabled')",
  dnsOnlyMcr:
    "!has(self.addressSources) || size(self.addressSources) == 0 || 'ServiceTags' in self.addressSources || !has(self.includeMicrosoftContainerRegistry) || !self.includeMicrosoftContainerRegistry",
};
