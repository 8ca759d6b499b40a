import { comparePrefixes, containingPrefix, cover, parsePrefix } from '../addresses/cidr.js';

export interface RetiringPrefix {
  prefix: string;
  since: string;
  until: string;
}

export interface RetentionInput {
  /** What the current data asks for (a cover). */
  desired: string[];
  /** What the live objects allow now. */
  applied: string[];
  /** Retiring prefixes remembered from the last reconcile (kept in status). */
  retiring: RetiringPrefix[];
  now: Date;
  graceMs: number;
}

export interface RetentionResult {
  /** What to allow: desired plus whatever is still retiring, sorted by address. */
  effective: string[];
  retiring: RetiringPrefix[];
  /** Prefixes allowed now that were not before. */
  added: string[];
  /** Prefixes that started retiring in this step. */
  startedRetiring: string[];
  /** Prefixes whose grace period ended in this step; they are no longer allowed. */
  expired: string[];
}

/**
 * Make-before-break: new prefixes apply at once; a prefix that stops being desired stays allowed until its grace
 * period ends. A prefix still covered by a desired prefix is not leaving (a merge is not a removal).
 */
export function retain(input: RetentionInput): RetentionResult {
  const desiredCover = cover(input.desired.map(parsePrefix));
  const covered = (p: string) => containingPrefix(desiredCover, parsePrefix(p)) !== undefined;
  const now = input.now.getTime();
  const known = new Map(input.retiring.map((r) => [r.prefix, r]));
  const retiring: RetiringPrefix[] = [];
  const startedRetiring: string[] = [];
  const expired: string[] = [];
  const candidates = new Set([...input.retiring.map((r) => r.prefix), ...input.applied]);
  for (const prefix of candidates) {
    if (covered(prefix)) continue;
    const previous = known.get(prefix);
    if (previous) {
      if (Date.parse(previous.until) <= now) expired.push(prefix);
      else retiring.push(previous);
    } else {
      const entry = { prefix, since: input.now.toISOString(), until: new Date(now + input.graceMs).toISOString() };
      retiring.push(entry);
      startedRetiring.push(prefix);
    }
  }
  const byAddress = (a: string, b: string) => comparePrefixes(parsePrefix(a), parsePrefix(b));
  retiring.sort((a, b) => byAddress(a.prefix, b.prefix));
  const applied = new Set(input.applied);
  const effective = [...new Set([...input.desired, ...retiring.map((r) => r.prefix)])].sort(byAddress);
  return {
    effective,
    retiring,
    added: effective.filter((p) => !applied.has(p)),
    startedRetiring: startedRetiring.sort(byAddress),
    expired: expired.sort(byAddress),
  };
}

/** The earliest moment a retiring prefix expires, for a delayed requeue. */
export function nextExpiry<T extends { until: string }>(retiring: T[]): number | undefined {
  const times = retiring.map((r) => Date.parse(r.until));
  return times.length ? Math.min(...times) : undefined;
}

export interface RetiringHost {
  host: string;
  since: string;
  until: string;
}

/**
 * Make-before-break for host names (FQDN rules): a host that stops being desired — a replica dropped from the spec,
 * data endpoints turned off — stays allowed for the grace period, like a prefix.
 */
export function retainHosts(input: {
  desired: string[];
  applied: string[];
  retiring: RetiringHost[];
  now: Date;
  graceMs: number;
}): { effective: string[]; retiring: RetiringHost[] } {
  const desired = new Set(input.desired);
  const known = new Map(input.retiring.map((r) => [r.host, r]));
  const now = input.now.getTime();
  const retiring: RetiringHost[] = [];
  for (const host of new Set([...input.applied, ...known.keys()])) {
    if (desired.has(host)) continue;
    const previous = known.get(host);
    if (previous && Date.parse(previous.until) <= now) continue;
    retiring.push(
      previous ?? { host, since: input.now.toISOString(), until: new Date(now + input.graceMs).toISOString() },
    );
  }
  retiring.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return { effective: [...new Set([...input.desired, ...retiring.map((r) => r.host)])].sort(), retiring };
}
