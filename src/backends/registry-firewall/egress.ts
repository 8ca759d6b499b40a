/**
 * An AKS cluster's egress public IPs, read from ARM: what the registry's IP firewall must allow for kubelet pulls.
 *
 * Where they live depends on `networkProfile.outboundType` (reference/azure-facts.md §2.4): the cluster load
 * balancer's effective outbound IPs (and any outbound IP prefixes), the managed NAT gateway's effective outbound
 * IPs, the user's NAT gateway on the node subnets, or, for user-defined routing, whatever the route sends traffic
 * through: AKS does not know that, so it is the Azure Firewall(s) of `spec.azure.firewallPolicy` or a list in the
 * spec. ACR IP rules take IPv4 only, so IPv6 egress is reported and left out.
 *
 * Finding no IPv4 address at all for a cluster that egresses publicly is an error, never an empty answer: an empty
 * answer would make the caller remove every rule it added, and pulls would stop while the cluster is mid-update.
 */
import type { ManagedCluster } from '@azure/arm-containerservice';
import type { AzureFirewall } from '@azure/arm-network';
import { ArmWriteError, classifyArmWriteError, parseArmResourceId, type ArmResourceId } from '../../azure/arm-write.js';
import type { ArmClients } from '../../azure/clients.js';
import { comparePrefixes, formatPrefix, parsePrefix, type Prefix } from '../../addresses/cidr.js';

export interface ClusterEgress {
  /** As the cluster reports it (`loadBalancer` when it reports none, ARM's default). */
  outboundType: string;
  /** IPv4 CIDRs (`/32` for a single address), sorted, without duplicates. */
  addresses: string[];
  /** ARM ids read, in the order read. */
  sources: string[];
  warnings: string[];
}

export interface EgressOptions {
  /** `spec.azure.firewallPolicy.resourceId`: the firewall(s) a userDefinedRouting cluster egresses through. */
  firewallPolicyId?: string;
}

type Clients = Pick<ArmClients, 'network' | 'containerService'>;

/** Egress the operator cannot allowlist: network-isolated clusters have no public outbound path. */
const NO_PUBLIC_EGRESS = new Set(['none', 'block']);

export async function discoverClusterEgress(
  clients: Clients,
  clusterResourceId: string,
  opts: EgressOptions = {},
): Promise<ClusterEgress> {
  const id = parseArmResourceId(clusterResourceId, 'Microsoft.ContainerService', 'managedClusters');
  if (!id) throw new ArmWriteError('Rejected', `${clusterResourceId} is not an AKS managed cluster id`);
  const found = new Found(clients);
  const cluster = await found.read(id.id, `GET managed cluster ${id.name}`, () =>
    clients.containerService(id.subscriptionId).managedClusters.get(id.resourceGroup, id.name),
  );
  const outboundType = cluster.networkProfile?.outboundType ?? 'loadBalancer';
  switch (outboundType.toLowerCase()) {
    case 'loadbalancer': {
      const lb = cluster.networkProfile?.loadBalancerProfile;
      await found.publicIps(refs(lb?.effectiveOutboundIPs));
      await found.publicIpPrefixes(refs(lb?.outboundIPPrefixes?.publicIPPrefixes));
      break;
    }
    case 'managednatgateway':
    case 'managednatgatewayv2':
      await found.publicIps(refs(cluster.networkProfile?.natGatewayProfile?.effectiveOutboundIPs));
      break;
    case 'userassignednatgateway':
      await userAssignedNatGateway(found, cluster, id);
      break;
    case 'userdefinedrouting':
      await userDefinedRouting(found, id, opts.firewallPolicyId);
      break;
    default:
      if (NO_PUBLIC_EGRESS.has(outboundType.toLowerCase())) {
        found.warnings.push(
          `cluster ${id.name} has outboundType ${outboundType}: no public egress, so there is no IP to allow; its nodes reach the registry privately, if at all`,
        );
        return found.result(outboundType);
      }
      throw new ArmWriteError(
        'Rejected',
        `cluster ${id.name} has outboundType ${outboundType}, which this operator does not know how to read egress IPs from; list them in spec.azure.registryFirewall.egressIPs`,
      );
  }
  if (!found.addresses.size) {
    const why = found.ipv6
      ? `its egress is IPv6 only, and ACR IP rules take IPv4 only; list IPv4 egress addresses in spec.azure.registryFirewall.egressIPs`
      : `it may be mid-update; what is in force stays`;
    throw new ArmWriteError(
      found.ipv6 ? 'Rejected' : 'Transient',
      `found no IPv4 egress address for cluster ${id.name} (outboundType ${outboundType}): ${why}`,
    );
  }
  return found.result(outboundType);
}

/** The NAT gateway(s) on the node subnets: every agent pool's `vnetSubnetID`. */
async function userAssignedNatGateway(found: Found, cluster: ManagedCluster, id: ArmResourceId): Promise<void> {
  const subnetIds = unique((cluster.agentPoolProfiles ?? []).map((p) => p.vnetSubnetID));
  if (!subnetIds.length) {
    throw new ArmWriteError(
      'Rejected',
      `cluster ${id.name} has outboundType userAssignedNATGateway but no agent pool names its subnet (vnetSubnetID)`,
    );
  }
  const natIds: string[] = [];
  for (const subnetId of subnetIds) {
    const s = parseSubnetId(subnetId);
    if (!s) throw new ArmWriteError('Rejected', `${subnetId} (an agent pool's vnetSubnetID) is not a subnet id`);
    const subnet = await found.read(subnetId, `GET subnet ${s.vnet}/${s.name}`, () =>
      found.clients.network(s.subscriptionId).subnets.get(s.resourceGroup, s.vnet, s.name),
    );
    if (subnet.natGateway?.id) natIds.push(subnet.natGateway.id);
    else found.warnings.push(`subnet ${s.vnet}/${s.name} of cluster ${id.name} has no NAT gateway`);
  }
  if (!natIds.length) {
    throw new ArmWriteError(
      'Rejected',
      `cluster ${id.name} has outboundType userAssignedNATGateway but none of its node subnets has a NAT gateway`,
    );
  }
  for (const natId of unique(natIds)) {
    const n = top(natId, 'natGateways');
    const nat = await found.read(natId, `GET NAT gateway ${n.name}`, () =>
      found.clients.network(n.subscriptionId).natGateways.get(n.resourceGroup, n.name),
    );
    for (const v6 of [...refs(nat.publicIpAddressesV6), ...refs(nat.publicIpPrefixesV6)]) {
      found.warnings.push(`${v6} (IPv6 egress of NAT gateway ${n.name}) skipped: ACR IP rules take IPv4 only`);
      found.ipv6 = true;
    }
    await found.publicIps(refs(nat.publicIpAddresses));
    await found.publicIpPrefixes(refs(nat.publicIpPrefixes));
  }
}

/** The public IPs of the Azure Firewall(s) the policy is attached to: where user-defined routes send egress. */
async function userDefinedRouting(found: Found, id: ArmResourceId, policyId: string | undefined): Promise<void> {
  if (!policyId) {
    throw new ArmWriteError(
      'Rejected',
      `cluster ${id.name} has outboundType userDefinedRouting: its egress IPs are those of the firewall or appliance its routes lead to, which AKS does not report. List them in spec.azure.registryFirewall.egressIPs, or set spec.azure.firewallPolicy to read them from its Azure Firewall`,
    );
  }
  const p = top(policyId, 'firewallPolicies');
  const policy = await found.read(p.id, `GET firewall policy ${p.name}`, () =>
    found.clients.network(p.subscriptionId).firewallPolicies.get(p.resourceGroup, p.name),
  );
  const firewalls = refs(policy.firewalls);
  if (!firewalls.length) {
    throw new ArmWriteError(
      'Rejected',
      `firewall policy ${p.name} is attached to no Azure Firewall, so cluster ${id.name}'s egress IPs cannot be read from it; list them in spec.azure.registryFirewall.egressIPs`,
    );
  }
  for (const fwId of firewalls) {
    const f = top(fwId, 'azureFirewalls');
    const fw: AzureFirewall = await found.read(fwId, `GET Azure Firewall ${f.name}`, () =>
      found.clients.network(f.subscriptionId).azureFirewalls.get(f.resourceGroup, f.name),
    );
    // The management IP configuration (forced tunnelling) carries Azure's own traffic, not the cluster's.
    await found.publicIps(refs((fw.ipConfigurations ?? []).map((c) => c.publicIPAddress)));
    // A secured virtual hub's firewall has no IP configurations: its public IPs are listed on it directly.
    for (const a of fw.hubIPAddresses?.publicIPs?.addresses ?? []) {
      if (a.address) found.add(a.address, `Azure Firewall ${f.name}`);
    }
  }
}

/** What discovery has read so far. */
class Found {
  readonly addresses = new Map<string, Prefix>();
  readonly sources: string[] = [];
  readonly warnings: string[] = [];
  ipv6 = false;

  constructor(readonly clients: Clients) {}

  async read<T>(armId: string, what: string, get: () => Promise<T>): Promise<T> {
    try {
      const value = await get();
      this.sources.push(armId);
      return value;
    } catch (err) {
      throw classifyArmWriteError(err, what);
    }
  }

  async publicIps(ids: string[]): Promise<void> {
    const ips = await Promise.all(
      ids.map((ipId) => {
        const r = top(ipId, 'publicIPAddresses');
        return this.read(ipId, `GET public IP ${r.name}`, () =>
          this.clients.network(r.subscriptionId).publicIPAddresses.get(r.resourceGroup, r.name),
        );
      }),
    );
    ips.forEach((ip, i) => {
      if (ip.ipAddress) this.add(ip.ipAddress, `public IP ${ip.name ?? ids[i]}`);
      else this.warnings.push(`public IP ${ids[i]} has no address yet (allocation pending)`);
    });
  }

  async publicIpPrefixes(ids: string[]): Promise<void> {
    const prefixes = await Promise.all(
      ids.map((prefixId) => {
        const r = top(prefixId, 'publicIPPrefixes');
        return this.read(prefixId, `GET public IP prefix ${r.name}`, () =>
          this.clients.network(r.subscriptionId).publicIPPrefixes.get(r.resourceGroup, r.name),
        );
      }),
    );
    prefixes.forEach((p, i) => {
      if (p.ipPrefix) this.add(p.ipPrefix, `public IP prefix ${p.name ?? ids[i]}`);
      else this.warnings.push(`public IP prefix ${ids[i]} has no range yet (allocation pending)`);
    });
  }

  add(text: string, from: string): void {
    let p: Prefix;
    try {
      p = parsePrefix(text.trim());
    } catch {
      this.warnings.push(`${from} reports "${text}", which is not an IP address or range: skipped`);
      return;
    }
    if (p.family === 6) {
      this.warnings.push(`${text} (${from}) is IPv6: ACR IP rules take IPv4 only, skipped`);
      this.ipv6 = true;
      return;
    }
    this.addresses.set(formatPrefix(p), p);
  }

  result(outboundType: string): ClusterEgress {
    const addresses = [...this.addresses.values()].sort(comparePrefixes).map(formatPrefix);
    return { outboundType, addresses, sources: unique(this.sources), warnings: this.warnings };
  }
}

function top(armId: string, type: string): ArmResourceId {
  const id = parseArmResourceId(armId, 'Microsoft.Network', type);
  if (!id) throw new ArmWriteError('Rejected', `${armId} is not a Microsoft.Network/${type} id`);
  return id;
}

/** `/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}`. */
function parseSubnetId(
  armId: string,
): { subscriptionId: string; resourceGroup: string; vnet: string; name: string } | undefined {
  const m =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/virtualNetworks\/([^/]+)\/subnets\/([^/]+)\/?$/i.exec(
      armId,
    );
  return m ? { subscriptionId: m[1]!, resourceGroup: m[2]!, vnet: m[3]!, name: m[4]! } : undefined;
}

function refs(list: readonly ({ id?: string } | undefined)[] | undefined): string[] {
  return unique((list ?? []).map((r) => r?.id));
}

/** Ids without repeats, compared case-insensitively as ARM does; first spelling kept. */
function unique(ids: readonly (string | undefined)[]): string[] {
  const seen = new Map<string, string>();
  for (const id of ids) if (id && !seen.has(id.toLowerCase())) seen.set(id.toLowerCase(), id);
  return [...seen.values()];
}
