/**
 * NSG outbound rules for one resource: pure. One Allow rule per service tag (ARM accepts one tag per rule), from the
 * nodes to TCP 443 of that tag. An NSG rule carries no labels or owner reference, so ownership is in the name: a
 * prefix made from the owner's identity, under which every rule is ours and outside which nothing is. Rules are
 * named after their destination, not numbered, so adding a region adds one rule and rewrites none.
 */
import { createHash } from 'node:crypto';
import type { EgressIntent, IntentOwner } from '../../intent/intent.js';
import { ownerId } from '../ownership.js';

/** NSG priorities users may set; 65000+ are Azure's default rules. */
export const NSG_PRIORITY_MIN = 100;
export const NSG_PRIORITY_MAX = 4096;
/** ARM limits: names 1–80 characters, descriptions 140, prefixes per rule 4000. */
const NAME_MAX = 80;
const DESCRIPTION_MAX = 140;
const PREFIXES_PER_RULE = 4000;

/**
 * The source of every rule. The NSG sits on the node subnet (or the nodes' NICs), so outbound traffic it sees
 * starts there: node IPs, Azure CNI pod IPs, and overlay pods SNATed to their node. `VirtualNetwork` names exactly
 * that without the operator knowing the subnet's CIDR (which the spec does not carry), and unlike `*` it stays
 * correct if the NSG is also attached to a subnet of a peered network.
 */
export const DEFAULT_NSG_SOURCE = 'VirtualNetwork';

export interface NsgTarget {
  /** The NSG's ARM id. */
  resourceId: string;
  /** Where our rules start; each gets the lowest free priority at or above it. */
  priority: number;
}

/** One desired security rule, in the SDK's (flattened) shape, without its priority. */
export interface NsgRule {
  name: string;
  description: string;
  protocol: 'Tcp';
  access: 'Allow';
  direction: 'Outbound';
  sourceAddressPrefix: string;
  sourcePortRange: '*';
  destinationPortRange: string;
  /** A service tag. */
  destinationAddressPrefix?: string;
  /** Prefixes, when the intent has no tags (DNS-only address sources). */
  destinationAddressPrefixes?: string[];
}

export interface NsgPlan {
  resourceId: string;
  /** Every rule of this owner, and only those, start with it. */
  prefix: string;
  basePriority: number;
  /** In the order priorities are handed out. */
  rules: NsgRule[];
}

export interface NsgPlanOptions {
  source?: string;
}

/**
 * The ownership prefix: `acr-access-` and 10 hex of a hash of the owner (kind, namespace, name and uid). The uid
 * keeps two clusters' `ClusterAcrAccess/contoso` apart when they share an NSG, and a deleted-then-recreated
 * resource from adopting what its predecessor's finalizer should have removed.
 */
export function nsgRulePrefix(owner: IntentOwner): string {
  const identity = `${ownerId(owner)}/${owner.uid ?? ''}`;
  return `acr-access-${createHash('sha256').update(identity).digest('hex').slice(0, 10)}-`;
}

export function planNsgRules(intent: EgressIntent, target: NsgTarget, opts: NsgPlanOptions = {}): NsgPlan {
  if (!Number.isInteger(target.priority) || target.priority < NSG_PRIORITY_MIN || target.priority > NSG_PRIORITY_MAX) {
    throw new RangeError(`NSG rule priority ${target.priority} is outside ${NSG_PRIORITY_MIN}-${NSG_PRIORITY_MAX}`);
  }
  const prefix = nsgRulePrefix(intent.owner);
  const source = opts.source ?? DEFAULT_NSG_SOURCE;
  const ports = [...new Set(intent.ports.filter((p) => p.protocol === 'TCP').map((p) => p.port))].sort((a, b) => a - b);
  const port = ports.join(',') || '443';
  const base = {
    protocol: 'Tcp',
    access: 'Allow',
    direction: 'Outbound',
    sourceAddressPrefix: source,
    sourcePortRange: '*',
    destinationPortRange: port,
  } as const;
  const who = ownerId(intent.owner);
  const tags = [...new Set(intent.provenance.tags.map((t) => t.name))].sort();
  const rules: NsgRule[] = tags.map((tag) => ({
    name: ruleName(prefix, tag),
    description: describe(who, tag),
    ...base,
    destinationAddressPrefix: tag,
  }));
  if (tags.length === 0) {
    // No service tags (addressSources: [DNS]): the resolved prefixes themselves, one family per rule.
    for (const [family, prefixes] of [
      ['ipv4', intent.prefixes.ipv4],
      ['ipv6', intent.prefixes.ipv6],
    ] as const) {
      for (let i = 0; i * PREFIXES_PER_RULE < prefixes.length; i++) {
        const chunk = [...prefixes].sort().slice(i * PREFIXES_PER_RULE, (i + 1) * PREFIXES_PER_RULE);
        rules.push({
          name: ruleName(prefix, `${family}-${i}`),
          description: describe(who, `${chunk.length} ${family} prefixes`),
          ...base,
          destinationAddressPrefixes: chunk,
        });
      }
    }
  }
  return { resourceId: target.resourceId, prefix, basePriority: target.priority, rules };
}

/** `<prefix><destination>`; a destination too long for ARM's 80 characters keeps its start and gets a hash. */
function ruleName(prefix: string, destination: string): string {
  const clean = destination.replace(/[^A-Za-z0-9_.-]/g, '-');
  const name = `${prefix}${clean}`;
  if (name.length <= NAME_MAX) return name;
  const digest = createHash('sha256').update(clean).digest('hex').slice(0, 8);
  return `${name.slice(0, NAME_MAX - 9).replace(/[-.]+$/, '')}-${digest}`;
}

function describe(owner: string, what: string): string {
  const text = `acr-access-operator: ${owner}: registry egress to ${what}`;
  return text.length <= DESCRIPTION_MAX ? text : `${text.slice(0, DESCRIPTION_MAX - 3)}...`;
}
