/**
 * The minimal prefix cover: `cover` returns the fewest prefixes covering exactly the union of its input (the same
 * answer as Python's ipaddress.collapse_addresses), sorted by address, IPv4 first.
 */
import {
  POW2,
  PrefixError,
  compareWords,
  formatIPv4,
  formatIPv6,
  increment,
  parseIPv6,
  prefixEnd,
  scanIPv4,
  scanLength,
  setLow,
  trailingZeros,
  type Prefix,
  type Words,
} from './prefix.js';

export { comparePrefixes, formatPrefix, isPrefix, parsePrefix, prefixEnd, PrefixError } from './prefix.js';
export type { Family, Prefix, Words } from './prefix.js';

/** An IPv6 range with its start spread over plain fields, which V8 sorts faster than nested arrays. */
interface Range6 {
  a: number;
  b: number;
  c: number;
  d: number;
  end: Words;
}

const range6 = (start: Words, end: Words): Range6 => ({ a: start[0], b: start[1], c: start[2], d: start[3], end });

/** Does `r` start at or before end + 1, i.e. overlap or touch the range ending at `end`? No allocation. */
function startsByOrBefore(r: Range6, end: Words): boolean {
  const cmp = r.a - end[0] || r.b - end[1] || r.c - end[2] || r.d - end[3];
  if (cmp <= 0) return true;
  const next = increment(end);
  return next === undefined || (r.a === next[0] && r.b === next[1] && r.c === next[2] && r.d === next[3]);
}

/**
 * Collects ranges to cover. An IPv4 prefix is one float64 key, start·64 + host bits (exact below 2^53), so IPv4
 * ranges sort with the native numeric typed-array sort rather than a comparator over objects; IPv6 ranges keep
 * their words.
 */
class RangeCollector {
  private keys = new Float64Array(256);
  private count = 0;
  private readonly v6: Range6[] = [];

  addIPv4(start: number, length: number): void {
    if (this.count === this.keys.length) {
      const grown = new Float64Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    this.keys[this.count++] = start * 64 + (32 - length);
  }

  /** Takes ownership of `start` (its host bits are cleared in place). */
  addIPv6(start: Words, length: number): void {
    const host = 128 - length;
    const end: Words = [start[0], start[1], start[2], start[3]];
    for (let i = 3, n = host; i >= 0 && n > 0; i--, n -= 32) {
      const low = n >= 32 ? 0xffffffff : POW2[n]! - 1;
      start[i] = (start[i]! & ~low) >>> 0;
      end[i] = (end[i]! | low) >>> 0;
    }
    this.v6.push({ a: start[0], b: start[1], c: start[2], d: start[3], end });
  }

  add(p: Prefix): void {
    if (p.family === 4) this.addIPv4(p.start[3], p.length);
    else this.v6.push(range6(p.start, prefixEnd(p)));
  }

  /** Emits the minimal cover: IPv4 then IPv6, each sorted by address. */
  collapse(emit4: (start: number, length: number) => void, emit6: (start: Words, length: number) => void): void {
    const keys = this.keys.subarray(0, this.count).sort();
    let first = -1;
    let last = -1;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const hostBits = key % 64;
      const s = (key - hostBits) / 64;
      const e = s + POW2[hostBits]! - 1;
      if (first >= 0 && s <= last + 1) {
        if (e > last) last = e;
      } else {
        if (first >= 0) rangeToIPv4Prefixes(first, last, emit4);
        first = s;
        last = e;
      }
    }
    if (first >= 0) rangeToIPv4Prefixes(first, last, emit4);

    this.v6.sort((x, y) => x.a - y.a || x.b - y.b || x.c - y.c || x.d - y.d);
    let current: [Words, Words] | undefined;
    for (const r of this.v6) {
      if (current && startsByOrBefore(r, current[1])) {
        if (compareWords(r.end, current[1]) > 0) current[1] = r.end;
      } else {
        if (current) rangeToIPv6Prefixes(current[0], current[1], emit6);
        current = [[r.a, r.b, r.c, r.d], r.end];
      }
    }
    if (current) rangeToIPv6Prefixes(current[0], current[1], emit6);
  }
}

/** Cuts [first, last] into the fewest aligned blocks: each the largest that starts there and fits. */
function rangeToIPv4Prefixes(first: number, last: number, emit: (start: number, length: number) => void): void {
  let start = first;
  while (start <= last) {
    const span = last - start + 1;
    const fits = span >= 0x100000000 ? 32 : 31 - Math.clz32(span);
    const aligned = start === 0 ? 32 : 31 - Math.clz32(start & -start);
    const size = aligned < fits ? aligned : fits;
    emit(start, 32 - size);
    start += POW2[size]!;
  }
}

function rangeToIPv6Prefixes(first: Words, last: Words, emit: (start: Words, length: number) => void): void {
  let start: Words | undefined = first;
  while (start) {
    const size = Math.min(trailingZeros(start, 128), spanBits(start, last));
    emit(start, 128 - size);
    const end = setLow(start, size);
    start = compareWords(end, last) === 0 ? undefined : increment(end);
  }
}

/** floor(log2(last - start + 1)): the largest block size, in bits, that fits between start and last. */
function spanBits(start: Words, last: Words): number {
  // diff = last - start, word by word with borrow.
  const diff: Words = [0, 0, 0, 0];
  let borrow = 0;
  for (let i = 3; i >= 0; i--) {
    let d = last[i]! - start[i]! - borrow;
    borrow = d < 0 ? 1 : 0;
    if (d < 0) d += 0x100000000;
    diff[i] = d;
  }
  const count = increment(diff);
  if (!count) return 128; // the whole address space
  for (let i = 0; i < 4; i++) if (count[i] !== 0) return (3 - i) * 32 + 31 - Math.clz32(count[i]!);
  return 0;
}

/**
 * The minimal prefix cover of the union of `prefixes`: overlapping and adjacent ranges are merged, then each merged
 * range is cut into the fewest aligned blocks.
 */
export function cover(prefixes: Iterable<Prefix>): Prefix[] {
  const collector = new RangeCollector();
  for (const p of prefixes) collector.add(p);
  const out: Prefix[] = [];
  collector.collapse(
    (start, length) => out.push({ family: 4, start: [0, 0, 0, start], length }),
    (start, length) => out.push({ family: 6, start, length }),
  );
  return out;
}

/** Parses, covers and formats in one step, without intermediate Prefix lists; a bad entry throws PrefixError. */
export function coverStrings(prefixes: Iterable<string>): string[] {
  const collector = new RangeCollector();
  for (const text of prefixes) {
    const slash = text.indexOf('/');
    const end = slash < 0 ? text.length : slash;
    const colon = text.indexOf(':');
    if (colon >= 0 && colon < end) {
      const length = slash < 0 ? 128 : scanLength(text, slash, 128);
      const start = parseIPv6(text, end);
      if (length < 0 || !start) throw new PrefixError(`"${text}" is not an IPv4 or IPv6 prefix`);
      collector.addIPv6(start, length);
      continue;
    }
    // IPv4, the bulk of every feed: straight to a key, no objects.
    const length = slash < 0 ? 32 : scanLength(text, slash, 32);
    const value = scanIPv4(text, 0, end);
    if (length < 0 || value < 0) throw new PrefixError(`"${text}" is not an IPv4 or IPv6 prefix`);
    collector.addIPv4(value - (value % POW2[32 - length]!), length);
  }
  const out: string[] = [];
  collector.collapse(
    (start, length) => out.push(`${formatIPv4(start)}/${length}`),
    (start, length) => out.push(`${formatIPv6(start)}/${length}`),
  );
  return out;
}

/** The prefix of `sorted` (a cover: sorted, non-overlapping) that contains `p`, found by binary search. */
export function containingPrefix(sorted: Prefix[], p: Prefix): Prefix | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = sorted[mid]!;
    if (m.family < p.family || (m.family === p.family && compareWords(prefixEnd(m), p.start) < 0)) lo = mid + 1;
    else if (m.family > p.family || compareWords(m.start, p.start) > 0) hi = mid - 1;
    else return compareWords(prefixEnd(m), prefixEnd(p)) >= 0 ? m : undefined;
  }
  return undefined;
}
