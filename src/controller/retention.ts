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
export function nextExpiry(retiring: RetiringPrefix[]): number | undefined {
  const times = retiring.map((r) => Date.parse(r.until));
  return times.length ? Math.min(...times) : undefined;
}
