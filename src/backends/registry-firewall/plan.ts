/**
 * The registry's IP rules from the live list, the desired egress addresses and our ledger: pure.
 *
 * An ACR IP rule is a bare value (`{action: Allow, value}`) with no name, tag or description, so nothing on the
 * registry says who added it. Ownership is the caller's ledger (`owned`, kept in the resource's status): we remove
 * only what the ledger says we added, and a desired value someone else already listed stays theirs (it is not
 * claimed, so our release never takes away a rule they rely on). Values compare by the range they cover:
 * `1.2.3.4` is `1.2.3.4/32`, and `10.0.0.7/24` is `10.0.0.0/24`.
 */
import { comparePrefixes, formatPrefix, parsePrefix, type Prefix } from '../../addresses/cidr.js';

export interface IpRulesPlan {
  /** The whole list to write: every live value not removed, as read and in its order, then the added ones. */
  next: string[];
  /** Values we add, in the form we write them (a bare address for a /32). */
  added: string[];
  /** Live values we remove, as they were read. */
  removed: string[];
  /** The ledger once `next` is written: ours still present and desired, and the added ones. Canonical, sorted. */
  owned: string[];
  /** The ledger as the registry stands now, before any write: ours that are present. Canonical, sorted. */
  current: string[];
  /** Desired values already listed by someone else: in force, not ours. */
  foreign: string[];
  /** Desired values that cannot be an ACR IP rule (IPv6, not an address), each with why. */
  warnings: string[];
}

/** A value's identity: the IPv4 prefix it covers (`a.b.c.d/n`, host bits cleared); undefined when not IPv4. */
export function ipv4Key(value: string): string | undefined {
  const p = tryParse(value.trim());
  return p?.family === 4 ? formatPrefix(p) : undefined;
}

/** How we write a value: a bare address for a single host (as `az acr network-rule add` does), else the CIDR. */
export function ruleValue(key: string): string {
  return key.endsWith('/32') ? key.slice(0, -3) : key;
}

export function planIpRules(
  live: readonly string[],
  desired: readonly string[],
  owned: readonly string[],
): IpRulesPlan {
  const warnings: string[] = [];
  const want = new Map<string, Prefix>();
  for (const value of desired) {
    const p = tryParse(value.trim());
    if (!p) warnings.push(`${value} is not an IP address or CIDR range: skipped`);
    else if (p.family === 6) warnings.push(`${value} is IPv6: ACR IP rules take IPv4 only, skipped`);
    else want.set(formatPrefix(p), p);
  }
  const ours = new Set(owned.map(ipv4Key).filter((k): k is string => k !== undefined));
  // Live values that are not IPv4 prefixes are foreign by definition (we never write one): keyed by their text.
  const liveKeys = new Set(live.map((v) => ipv4Key(v) ?? v));

  const removing = new Set([...ours].filter((k) => liveKeys.has(k) && !want.has(k)));
  const next: string[] = [];
  const removed: string[] = [];
  for (const value of live) {
    if (removing.has(ipv4Key(value) ?? value)) removed.push(value);
    else next.push(value);
  }
  const sorted = [...want].sort(([, a], [, b]) => comparePrefixes(a, b)).map(([k]) => k);
  const addKeys = sorted.filter((k) => !liveKeys.has(k));
  const added = addKeys.map(ruleValue);
  next.push(...added);
  const foreign = sorted.filter((k) => liveKeys.has(k) && !ours.has(k)).map(ruleValue);
  // Ours: what we added now, and what the ledger had that is still there and still wanted.
  const ownedAfter = sorted.filter((k) => !liveKeys.has(k) || ours.has(k)).map(ruleValue);
  const current = [...ours].filter((k) => liveKeys.has(k));
  return { next, added, removed, owned: ownedAfter, current: sortKeys(current).map(ruleValue), foreign, warnings };
}

export function hasChanges(plan: IpRulesPlan): boolean {
  return plan.added.length > 0 || plan.removed.length > 0;
}

/**
 * Why a write of `nextCount` rules would not fit the registry's IP rule quota, or undefined when it fits. We refuse
 * rather than drop a foreign rule to make room: which rules matter more is not ours to decide.
 */
export function quotaRefusal(
  registry: string,
  quota: { limit: number; used: number },
  plan: Pick<IpRulesPlan, 'added' | 'removed' | 'next'>,
): string | undefined {
  if (plan.next.length <= quota.limit) return undefined;
  return (
    `registry ${registry} allows ${quota.limit} IP rules and has ${quota.used}; adding ${plan.added.length} ` +
    `(and removing ${plan.removed.length}) would make ${plan.next.length}. Nothing was written: remove rules ` +
    `from the registry's firewall, or list fewer (or wider) ranges in spec.azure.registryFirewall.egressIPs`
  );
}

/** Canonical keys in address order. */
export function sortKeys(keys: Iterable<string>): string[] {
  return [...new Set(keys)]
    .map((k) => [k, parsePrefix(k)] as const)
    .sort(([, a], [, b]) => comparePrefixes(a, b))
    .map(([k]) => k);
}

function tryParse(text: string): Prefix | undefined {
  try {
    return parsePrefix(text);
  } catch {
    return undefined;
  }
}
