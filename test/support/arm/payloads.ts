/**
 * ARM answers for the fake, made from the REST specs' own examples (shared/upstream/arm-examples, see SOURCES.md):
 * each body starts as the example's and only the fields a test is about are changed, so the SDKs deserialise what
 * ARM really sends (flattened `properties`, `value` lists, string change numbers).
 */
import { readFileSync } from 'node:fs';
import { findUpstreamFile } from '../../fixtures/upstream.js';
import type { FeedDoc } from '../feeds.js';

type Json = Record<string, unknown>;

function example(relative: string): Json {
  const file = findUpstreamFile(`arm-examples/${relative}`);
  if (!file)
    throw new Error(`shared/upstream/arm-examples/${relative} is missing: the fake ARM answers are made from it`);
  return JSON.parse(readFileSync(file, 'utf8')) as Json;
}

const body = (doc: Json, status = '200') =>
  structuredClone((doc.responses as Record<string, { body: Json }>)[status]!.body);

/** A registry as a test describes it. */
export interface FakeRegistry {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** Home region. */
  location: string;
  sku?: 'Basic' | 'Standard' | 'Premium';
  /** As ARM reports it: never derived by the fake either. */
  loginServer: string;
  dataEndpointEnabled?: boolean;
  dataEndpointHostNames?: string[];
  publicNetworkAccess?: 'Enabled' | 'Disabled';
  ipRules?: string[];
  /** `networkRuleSet.defaultAction`; default Deny when there are IP rules, else Allow. */
  defaultAction?: 'Allow' | 'Deny';
  /** Default as in the example (Succeeded); `Updating` while a slow write runs. */
  provisioningState?: string;
  /** Replica regions, the home region included (ARM lists the home replication too). */
  replications?: string[];
  /** Names of approved private endpoint connections. */
  privateEndpoints?: string[];
}

export const registryId = (r: Pick<FakeRegistry, 'subscriptionId' | 'resourceGroup' | 'name'>) =>
  `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${r.name}`;

/** Registries_Get, from RegistryGet.json. */
export function registryBody(r: FakeRegistry): Json {
  const b = body(example('Microsoft.ContainerRegistry/RegistryGet.json'));
  const tier = r.sku ?? 'Premium';
  Object.assign(b, { id: registryId(r), name: r.name, location: r.location, sku: { name: tier, tier } });
  Object.assign(b.properties as Json, {
    loginServer: r.loginServer,
    dataEndpointEnabled: r.dataEndpointEnabled ?? false,
    dataEndpointHostNames: r.dataEndpointEnabled ? (r.dataEndpointHostNames ?? []) : [],
    publicNetworkAccess: r.publicNetworkAccess ?? 'Enabled',
    ...(r.provisioningState ? { provisioningState: r.provisioningState } : {}),
    privateEndpointConnections: (r.privateEndpoints ?? []).map((name) => ({
      id: `${registryId(r)}/privateEndpointConnections/${name}`,
      name,
      type: 'Microsoft.ContainerRegistry/registries/privateEndpointConnections',
      properties: {
        privateEndpoint: {
          id: `/subscriptions/${r.subscriptionId}/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/${name}`,
        },
        privateLinkServiceConnectionState: {
          status: 'Approved',
          description: 'Auto-Approved',
          actionsRequired: 'None',
        },
        provisioningState: 'Succeeded',
      },
    })),
    networkRuleSet: {
      defaultAction: r.defaultAction ?? (r.ipRules?.length ? 'Deny' : 'Allow'),
      ipRules: (r.ipRules ?? []).map((value) => ({ action: 'Allow', value })),
    },
  });
  return b;
}

/** Replications_List, from ReplicationList.json: one entry per region. */
export function replicationListBody(r: FakeRegistry): Json {
  const b = body(example('Microsoft.ContainerRegistry/ReplicationList.json'));
  const template = (b.value as Json[])[0]!;
  b.value = (r.replications ?? [r.location]).map((location) => ({
    ...structuredClone(template),
    id: `${registryId(r)}/replications/${location}`,
    name: location,
    location,
  }));
  return b;
}

/**
 * ServiceTags_List, from ServiceTagsList.json, carrying a real feed's tags: change numbers as strings, no
 * regionId/platform/networkFeatures (the example has none), and an empty nextLink as ARM sends for a whole answer.
 */
export function serviceTagsBody(feed: FeedDoc, subscriptionId: string, changeNumber = feed.changeNumber): Json {
  const b = body(example('Microsoft.Network/ServiceTagsList.json'));
  return {
    ...b,
    id: `/subscriptions/${subscriptionId}/providers/Microsoft.Network/serviceTags/public`,
    changeNumber: String(changeNumber),
    cloud: feed.cloud,
    values: feed.values.map((v) => ({
      name: v.name,
      id: v.id,
      properties: {
        addressPrefixes: v.properties.addressPrefixes,
        changeNumber: String(v.properties.changeNumber),
        region: v.properties.region,
        systemService: (v.properties.systemService as string | undefined) ?? '',
      },
    })),
    nextLink: '',
  };
}

/** ManagedClusters_Get, from ManagedClustersGet.json. */
export function managedClusterBody(subscriptionId: string, resourceGroup: string, name: string): Json {
  const b = body(example('Microsoft.ContainerService/ManagedClustersGet.json'));
  return {
    ...b,
    id: `/subscriptions/${subscriptionId}/resourcegroups/${resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${name}`,
    name,
  };
}

/** ARM's error body. */
export const armError = (code: string, message: string) => ({ error: { code, message } });

/** An example's response body, for builders elsewhere in the fake. */
export function exampleResponse(relative: string, status = '200'): Json {
  return body(example(relative), status);
}

/**
 * Registries_ListUsages. Azure/azure-rest-api-specs has the example (…/Registry/examples/2025-11-01/
 * RegistryListUsages.json @ 15f38e5b: `Size` and `Webhooks` only) but shared/upstream does not, so its two entries
 * are written here; `IPRules` is the usage name Get-AzContainerRegistryUsage shows (reference/azure-facts.md §2.2).
 */
export function registryUsagesBody(r: FakeRegistry, ipRuleLimit: number): Json {
  return {
    value: [
      { name: 'Size', limit: 107374182400, currentValue: 12345678, unit: 'Bytes' },
      { name: 'Webhooks', limit: 10, currentValue: 2, unit: 'Count' },
      { name: 'IPRules', limit: ipRuleLimit, currentValue: r.ipRules?.length ?? 0, unit: 'Count' },
    ],
  };
}

/** An AKS cluster as a registry-firewall test describes its egress. */
export interface FakeCluster {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  outboundType: string;
  /** Public IP ids: `loadBalancerProfile` or `natGatewayProfile` `effectiveOutboundIPs`, by outboundType. */
  effectiveOutboundIPs?: string[];
  /** Public IP prefix ids (`loadBalancerProfile.outboundIPPrefixes`). */
  outboundIPPrefixes?: string[];
  /** One agent pool per subnet id (`vnetSubnetID`). */
  subnets?: string[];
}

export const clusterId = (c: Pick<FakeCluster, 'subscriptionId' | 'resourceGroup' | 'name'>) =>
  `/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${c.name}`;

/**
 * ManagedClusters_Get for an outboundType: ManagedClustersGet.json (loadBalancer) or the ManagedNATGateway
 * example's answer, with the outbound IPs replaced; for the other types the loadBalancer example without its
 * load balancer profile, as AKS shows a cluster that egresses through the user's NAT gateway or routes.
 */
export function egressClusterBody(c: FakeCluster): Json {
  const nat = c.outboundType.toLowerCase().startsWith('managednatgateway');
  const b = nat
    ? exampleResponse('Microsoft.ContainerService/ManagedClustersCreate_ManagedNATGateway.json')
    : exampleResponse('Microsoft.ContainerService/ManagedClustersGet.json');
  Object.assign(b, { id: clusterId(c), name: c.name });
  const props = b.properties as Json;
  const net = props.networkProfile as Json;
  net.outboundType = c.outboundType;
  const ids = (list: string[] | undefined) => (list ?? []).map((id) => ({ id }));
  if (nat) {
    (net.natGatewayProfile as Json).effectiveOutboundIPs = ids(c.effectiveOutboundIPs);
  } else if (c.outboundType === 'loadBalancer') {
    const lb = net.loadBalancerProfile as Json;
    lb.effectiveOutboundIPs = ids(c.effectiveOutboundIPs);
    if (c.outboundIPPrefixes) {
      // One of managed IPs, own IPs or prefixes at a time (AKS), so the example's own IPs make way.
      delete lb.outboundIPs;
      lb.outboundIPPrefixes = { publicIPPrefixes: ids(c.outboundIPPrefixes) };
    }
  } else {
    delete net.loadBalancerProfile;
  }
  if (c.subnets) {
    const template = (props.agentPoolProfiles as Json[])[0]!;
    props.agentPoolProfiles = c.subnets.map((vnetSubnetID, i) => ({
      ...structuredClone(template),
      name: `nodepool${i + 1}`,
      vnetSubnetID,
    }));
  }
  return b;
}

const networkId = (sub: string, group: string, type: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${group}/providers/Microsoft.Network/${type}/${name}`;
const ref = (id: string) => ({ id });

/** PublicIPAddresses_Get, from PublicIpAddressGet.json, with an address (the example has none) and its family. */
export function publicIpBody(p: { subscriptionId: string; resourceGroup: string; name: string; ipAddress?: string }) {
  const b = exampleResponse('Microsoft.Network/PublicIpAddressGet.json');
  const v6 = p.ipAddress?.includes(':') ?? false;
  Object.assign(b, { id: networkId(p.subscriptionId, p.resourceGroup, 'publicIPAddresses', p.name), name: p.name });
  const props = b.properties as Json;
  delete props.ipConfiguration;
  Object.assign(props, {
    publicIPAddressVersion: v6 ? 'IPv6' : 'IPv4',
    publicIPAllocationMethod: 'Static',
    ...(p.ipAddress ? { ipAddress: p.ipAddress } : {}),
  });
  return { ...b, sku: { name: 'Standard', tier: 'Regional' } };
}

/** PublicIPPrefixes_Get. No example in shared/upstream: the fields of the spec's PublicIPPrefix that are read. */
export function publicIpPrefixBody(p: {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  ipPrefix: string;
}) {
  const [, length] = p.ipPrefix.split('/');
  return {
    name: p.name,
    id: networkId(p.subscriptionId, p.resourceGroup, 'publicIPPrefixes', p.name),
    type: 'Microsoft.Network/publicIPPrefixes',
    location: 'westus',
    sku: { name: 'Standard', tier: 'Regional' },
    properties: {
      prefixLength: Number(length),
      publicIPAddressVersion: p.ipPrefix.includes(':') ? 'IPv6' : 'IPv4',
      ipPrefix: p.ipPrefix,
      ipTags: [],
      publicIPAddresses: [],
      provisioningState: 'Succeeded',
    },
  };
}

/** NatGateways_Get, from NatGatewayGet.json, with these public IPs, prefixes and subnets. */
export function natGatewayBody(n: {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  publicIps?: string[];
  publicIpPrefixes?: string[];
  publicIpsV6?: string[];
  subnets?: string[];
}): Json {
  const b = exampleResponse('Microsoft.Network/NatGatewayGet.json');
  Object.assign(b, { id: networkId(n.subscriptionId, n.resourceGroup, 'natGateways', n.name), name: n.name });
  Object.assign(b.properties as Json, {
    publicIpAddresses: (n.publicIps ?? []).map(ref),
    publicIpPrefixes: (n.publicIpPrefixes ?? []).map(ref),
    ...(n.publicIpsV6 ? { publicIpAddressesV6: n.publicIpsV6.map(ref) } : {}),
    subnets: (n.subnets ?? []).map(ref),
  });
  return b;
}

/** Subnets_Get. No example in shared/upstream: the spec's Subnet with its NAT gateway reference. */
export function subnetBody(s: {
  subscriptionId: string;
  resourceGroup: string;
  vnet: string;
  name: string;
  natGateway?: string;
}): Json {
  return {
    name: s.name,
    id: `${networkId(s.subscriptionId, s.resourceGroup, 'virtualNetworks', s.vnet)}/subnets/${s.name}`,
    type: 'Microsoft.Network/virtualNetworks/subnets',
    etag: 'W/"00000000-0000-0000-0000-000000000000"',
    properties: {
      addressPrefix: '10.224.0.0/16',
      ...(s.natGateway ? { natGateway: ref(s.natGateway) } : {}),
      privateEndpointNetworkPolicies: 'Disabled',
      privateLinkServiceNetworkPolicies: 'Enabled',
      provisioningState: 'Succeeded',
    },
  };
}

/** AzureFirewalls_Get, from AzureFirewallPut.json's answer, with one IP configuration per public IP. */
export function azureFirewallBody(f: {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  publicIps?: string[];
  /** A secured hub's firewall: no IP configurations, its public addresses listed instead. */
  hubAddresses?: string[];
}): Json {
  const b = exampleResponse('Microsoft.Network/AzureFirewallPut.json');
  const id = networkId(f.subscriptionId, f.resourceGroup, 'azureFirewalls', f.name);
  Object.assign(b, { id, name: f.name });
  const props = b.properties as Json;
  const template = (props.ipConfigurations as Json[])[0]!;
  props.ipConfigurations = (f.publicIps ?? []).map((pip, i) => {
    const c = structuredClone(template);
    Object.assign(c, { name: `ipconfig${i + 1}`, id: `${id}/ipConfigurations/ipconfig${i + 1}` });
    (c.properties as Json).publicIPAddress = ref(pip);
    return c;
  });
  if (f.hubAddresses) {
    props.hubIPAddresses = {
      privateIPAddress: '10.100.64.4',
      publicIPs: { count: f.hubAddresses.length, addresses: f.hubAddresses.map((address) => ({ address })) },
    };
  }
  return b;
}

/** FirewallPolicies_Get. No example in shared/upstream: the spec's FirewallPolicy with the firewalls using it. */
export function firewallPolicyBody(p: {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  firewalls?: string[];
}): Json {
  return {
    name: p.name,
    id: networkId(p.subscriptionId, p.resourceGroup, 'firewallPolicies', p.name),
    type: 'Microsoft.Network/FirewallPolicies',
    location: 'westus',
    etag: 'W/"00000000-0000-0000-0000-000000000000"',
    properties: {
      provisioningState: 'Succeeded',
      threatIntelMode: 'Alert',
      sku: { tier: 'Standard' },
      firewalls: (p.firewalls ?? []).map(ref),
      ruleCollectionGroups: [],
      childPolicies: [],
    },
  };
}
