/**
 * An Azure Firewall Policy rule collection group for one resource: pure. The group is wholly ours (one per
 * resource), so it is written whole and nobody else's group is ever in a request. Application rules allow HTTPS to
 * the exact registry hosts (the firewall matches SNI, so `contoso.azurecr.io` admits that registry and no other
 * behind the same addresses); Microsoft's guidance is to use application rules where possible. A network rule
 * collection with the service tags is optional: it admits every registry and storage account of those regions.
 */
import { createHash } from 'node:crypto';
import type { FirewallPolicyRuleCollectionGroup } from '@azure/arm-network';
import type { EgressIntent, IntentOwner } from '../../intent/intent.js';
import { ownerId } from '../ownership.js';

/** Group priorities ARM accepts. */
export const RCG_PRIORITY_MIN = 100;
export const RCG_PRIORITY_MAX = 65000;
/**
 * Ahead of the portal's defaults for application rules (300), so an application Deny collection created there
 * does not shadow the registry. Network rules are evaluated before application rules whatever the priority.
 */
export const DEFAULT_RCG_PRIORITY = 250;

export interface FirewallPolicyTarget {
  /** The firewall policy's ARM id. */
  resourceId: string;
  /** Default: `acr-access-<hash of the owner>`. */
  ruleCollectionGroup?: string;
  priority?: number;
}

export interface RcgPlanOptions {
  /** Also allow TCP 443 to the service tags by a network rule (needs no SNI; admits whole regions). */
  networkRules?: boolean;
}

export interface RcgPlan {
  policyId: string;
  name: string;
  /** The body to PUT (priority and rule collections; no read-only fields). */
  group: FirewallPolicyRuleCollectionGroup;
}

export function defaultRuleCollectionGroupName(owner: IntentOwner): string {
  const identity = `${ownerId(owner)}/${owner.uid ?? ''}`;
  return `acr-access-${createHash('sha256').update(identity).digest('hex').slice(0, 10)}`;
}

/**
 * `sources`: the addresses the rules apply to (the node subnet's CIDRs, or IP group ids are not supported here);
 * default `*`, as the group is only reached by traffic routed to this firewall.
 */
export function planRuleCollectionGroup(
  intent: EgressIntent,
  target: FirewallPolicyTarget,
  sources: readonly string[] = ['*'],
  opts: RcgPlanOptions = {},
): RcgPlan {
  const priority = target.priority ?? DEFAULT_RCG_PRIORITY;
  if (!Number.isInteger(priority) || priority < RCG_PRIORITY_MIN || priority > RCG_PRIORITY_MAX) {
    throw new RangeError(
      `rule collection group priority ${priority} is outside ${RCG_PRIORITY_MIN}-${RCG_PRIORITY_MAX}`,
    );
  }
  const name = target.ruleCollectionGroup ?? defaultRuleCollectionGroupName(intent.owner);
  const sourceAddresses = [...new Set(sources)].sort();
  const ports = [...new Set(intent.ports.filter((p) => p.protocol === 'TCP').map((p) => p.port))].sort((a, b) => a - b);
  const hosts = [...new Set(intent.hosts)].sort();
  const ruleCollections: NonNullable<FirewallPolicyRuleCollectionGroup['ruleCollections']> = [];
  if (opts.networkRules) {
    const tags = [...new Set(intent.provenance.tags.map((t) => t.name))].sort();
    // Without tags (DNS-only sources) the resolved IPv4 prefixes; Azure Firewall network rules are IPv4 here.
    const destinations = tags.length ? tags : [...intent.prefixes.ipv4].sort();
    if (destinations.length) {
      ruleCollections.push({
        ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
        name: 'acr-access-network',
        priority: 100,
        action: { type: 'Allow' },
        rules: [
          {
            ruleType: 'NetworkRule',
            name: 'registry-service-tags',
            ipProtocols: ['TCP'],
            sourceAddresses,
            destinationAddresses: destinations,
            destinationPorts: ports.map(String),
          },
        ],
      });
    }
  }
  if (hosts.length) {
    ruleCollections.push({
      ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
      name: 'acr-access-application',
      priority: 200,
      action: { type: 'Allow' },
      rules: [
        {
          ruleType: 'ApplicationRule',
          name: 'registry-hosts',
          description: `acr-access-operator: ${ownerId(intent.owner)}`,
          sourceAddresses,
          protocols: ports.map((port) => ({ protocolType: 'Https', port })),
          targetFqdns: hosts,
        },
      ],
    });
  }
  return { policyId: target.resourceId, name, group: { priority, ruleCollections } };
}
