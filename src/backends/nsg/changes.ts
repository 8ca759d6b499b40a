/**
 * From a live NSG and a plan to the writes that make our rules match it: pure. Rules outside our prefix are
 * never written, and decide only which priorities are taken. New rules go in before obsolete ones are deleted
 * (make-before-break), so an obsolete rule's priority is not reused in the same pass.
 */
import type { SecurityRule } from '@azure/arm-network';
import { NSG_PRIORITY_MAX, type NsgPlan, type NsgRule } from './plan.js';

export interface NsgPut {
  rule: NsgRule;
  priority: number;
  /** The live rule's ETag when it exists (an update), else undefined (a create). */
  etag?: string;
}

export interface NsgChanges {
  /** Creates and updates, in plan order. */
  puts: NsgPut[];
  /** Our rules no longer desired, by name. */
  deletes: { name: string; etag?: string }[];
  /** Every desired rule with the priority it has or will have. */
  applied: { name: string; priority: number; destination: string }[];
  /** Our rules placed after a foreign outbound Deny rule, which may shadow them. */
  warnings: string[];
  /** Our rules ARM is still provisioning: wait instead of writing over them. */
  provisioning: string[];
}

export class NsgPriorityExhausted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NsgPriorityExhausted';
  }
}

export function nsgChanges(live: readonly SecurityRule[], plan: NsgPlan): NsgChanges {
  const ours = new Map<string, SecurityRule>();
  const foreignOutbound: SecurityRule[] = [];
  for (const r of live) {
    if (r.name?.startsWith(plan.prefix)) ours.set(r.name, r);
    else if (sameWord(r.direction, 'Outbound')) foreignOutbound.push(r);
  }
  const taken = new Set(foreignOutbound.map((r) => r.priority).filter((p): p is number => p !== undefined));
  const assigned = new Map<string, number>();
  // Keep what already sits in a valid slot: an unchanged resync then writes nothing.
  for (const rule of plan.rules) {
    const p = ours.get(rule.name)?.priority;
    if (p !== undefined && p >= plan.basePriority && p <= NSG_PRIORITY_MAX && !taken.has(p)) {
      assigned.set(rule.name, p);
      taken.add(p);
    }
  }
  // Priorities of our other live rules stay taken until those are moved or deleted.
  for (const r of ours.values()) if (r.priority !== undefined) taken.add(r.priority);
  let next = plan.basePriority;
  for (const rule of plan.rules) {
    if (assigned.has(rule.name)) continue;
    while (taken.has(next)) next++;
    if (next > NSG_PRIORITY_MAX) {
      throw new NsgPriorityExhausted(
        `NSG ${plan.resourceId} has no free outbound priority between ${plan.basePriority} and ${NSG_PRIORITY_MAX} for ${plan.rules.length} rules`,
      );
    }
    assigned.set(rule.name, next);
    taken.add(next);
  }

  const puts: NsgPut[] = [];
  const applied: NsgChanges['applied'] = [];
  const warnings: string[] = [];
  const denies = foreignOutbound.filter((r) => sameWord(r.access, 'Deny'));
  for (const rule of plan.rules) {
    const priority = assigned.get(rule.name)!;
    const current = ours.get(rule.name);
    if (!current || !sameRule(current, rule, priority)) {
      puts.push({ rule, priority, ...(current?.etag ? { etag: current.etag } : {}) });
    }
    applied.push({ name: rule.name, priority, destination: destinationOf(rule) });
    const shadow = denies.filter((d) => (d.priority ?? Infinity) < priority).map((d) => `${d.name} (${d.priority})`);
    if (shadow.length) {
      warnings.push(`rule ${rule.name} (priority ${priority}) comes after outbound Deny rule ${shadow.join(', ')}`);
    }
  }
  const wanted = new Set(plan.rules.map((r) => r.name));
  const deletes = [...ours.values()]
    .filter((r) => !wanted.has(r.name!))
    .map((r) => ({ name: r.name!, ...(r.etag ? { etag: r.etag } : {}) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const provisioning = [...ours.values()]
    .filter((r) => r.provisioningState && !sameWord(r.provisioningState, 'Succeeded'))
    .map((r) => r.name!);
  return { puts, deletes, applied, warnings, provisioning };
}

/** The body of a PUT: the desired fields and the priority, nothing read-only. */
export function securityRuleBody(put: NsgPut): SecurityRule {
  const { name: _name, ...fields } = put.rule;
  return { ...fields, priority: put.priority };
}

function destinationOf(rule: NsgRule): string {
  return rule.destinationAddressPrefix ?? `${rule.destinationAddressPrefixes?.length ?? 0} prefixes`;
}

/** Field by field with what we would write; empty lists and absent ones are the same to ARM. */
function sameRule(live: SecurityRule, want: NsgRule, priority: number): boolean {
  return (
    live.priority === priority &&
    sameWord(live.protocol, want.protocol) &&
    sameWord(live.access, want.access) &&
    sameWord(live.direction, want.direction) &&
    (live.description ?? '') === want.description &&
    (live.sourceAddressPrefix ?? '') === want.sourceAddressPrefix &&
    (live.sourcePortRange ?? '') === want.sourcePortRange &&
    (live.destinationPortRange ?? '') === want.destinationPortRange &&
    (live.destinationAddressPrefix ?? '') === (want.destinationAddressPrefix ?? '') &&
    sameList(live.destinationAddressPrefixes, want.destinationAddressPrefixes) &&
    sameList(live.sourceAddressPrefixes, undefined) &&
    sameList(live.sourcePortRanges, undefined) &&
    sameList(live.destinationPortRanges, undefined) &&
    !live.sourceApplicationSecurityGroups?.length &&
    !live.destinationApplicationSecurityGroups?.length
  );
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = [...(a ?? [])].sort();
  const y = [...(b ?? [])].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** ARM returns enum values in its own case (`Tcp`, `Outbound`); compare without it. */
function sameWord(a: string | undefined, b: string): boolean {
  return (a ?? '').toLowerCase() === b.toLowerCase();
}
