/**
 * IPv4/IPv6 prefix arithmetic for the address sets this operator writes;
 * `cover` returns the minimal list of prefixes covering exactly the union of its input (the same answer as Python's
 * ipaddress.collapse_addresses), sorted by address.
 */
export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** First address as an unsigned integer (BigInt for both families, so one code path serves both). */
  start: bigint;
  length: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

export class PrefixError extends Error {}

export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family: Family = addr.includes(':') ? 6 : 4;
  const bits = BITS[family];
  const length = slash < 0 ? bits : Number(text.slice(slash + 1));
  if (
    !Number.isInteger(length) ||
    length < 0 ||
    length > bits ||
    (slash >= 0 && !/^\d{1,3}$/.test(text.slice(slash + 1)))
  ) {
    throw new PrefixError(`"${text}" has an invalid prefix length`);
  }
  const value = family === 4 ? parseIPv4(addr) : parseIPv6(addr);
  if (value === undefined) throw new PrefixError(`"${text}" is not an IPv${family} address`);
  // Host bits are cleared, as a router would; the feed is not trusted to be canonical.
  return { family, start: value & mask(family, length), length };
}

export function formatPrefix(p: Prefix): string {
  return `${p.family === 4 ? formatIPv4(p.start) : formatIPv6(p.start)}/${p.length}`;
}

export function isPrefix(text: string): boolean {
  try {
    parsePrefix(text);
    return true;
  } catch {
    return false;
  }
}

function mask(family: Family, length: number): bigint {
  const bits = BigInt(BITS[family]);
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(length))) - 1n);
}

function parseIPv4(addr: string): bigint | undefined {
  const parts = addr.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return BigInt(value);
}

function parseIPv6(addr: string): bigint | undefined {
  let text = addr;
  // An embedded IPv4 tail (::ffff:1.2.3.4) is rewritten as its two hex groups.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  let value = 0n;
  for (const g of [...head, ...Array<string>(8 - total).fill('0'), ...rest]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  return value;
}

function formatIPv4(v: bigint): string {
  const n = Number(v);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups as "::". */
function formatIPv6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function comparePrefixes(a: Prefix, b: Prefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.start !== b.start) return a.start < b.start ? -1 : 1;
  return a.length - b.length;
}

/** Last address of a prefix. */
export function prefixEnd(p: Prefix): bigint {
  return p.start + (1n << BigInt(BITS[p.family] - p.length)) - 1n;
}

/**
 * The minimal prefix cover of the union of `prefixes`, per family, IPv4 first, each family sorted by address.
 * Overlapping and adjacent ranges are merged first, then each merged range is cut into the fewest aligned blocks.
 */
export function cover(prefixes: Iterable<Prefix>): Prefix[] {
  const out: Prefix[] = [];
  for (const family of [4, 6] as const) {
    const ranges = [...prefixes]
      .filter((p) => p.family === family)
      .map((p): [bigint, bigint] => [p.start, prefixEnd(p)])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let current: [bigint, bigint] | undefined;
    for (const r of ranges) {
      if (current && r[0] <= current[1] + 1n) {
        if (r[1] > current[1]) current[1] = r[1];
      } else {
        if (current) out.push(...rangeToPrefixes(family, current[0], current[1]));
        current = [r[0], r[1]];
      }
    }
    if (current) out.push(...rangeToPrefixes(family, current[0], current[1]));
  }
  return out;
}

function rangeToPrefixes(family: Family, first: bigint, last: bigint): Prefix[] {
  const bits = BITS[family];
  const out: Prefix[] = [];
  let start = first;
  while (start <= last) {
    // The largest block that starts at `start` (alignment) and does not run past `last` (size).
    let size = start === 0n ? bits : trailingZeros(start, bits);
    while (size > 0 && start + (1n << BigInt(size)) - 1n > last) size--;
    out.push({ family, start, length: bits - size });
    start += 1n << BigInt(size);
  }
  return out;
}

function trailingZeros(v: bigint, max: number): number {
  let n = 0;
  while (n < max && ((v >> BigInt(n)) & 1n) === 0n) n++;
  return n;
}

/** Parses, covers and formats in one step; invalid entries throw PrefixError naming the entry. */
export function coverStrings(prefixes: Iterable<string>): string[] {
  return cover([...prefixes].map(parsePrefix)).map(formatPrefix);
}

/** Does any prefix of `sorted` (a cover, so non-overlapping and sorted) contain `p`? Binary search. */
export function containingPrefix(sorted: Prefix[], p: Prefix): Prefix | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = sorted[mid]!;
    if (m.family < p.family || (m.family === p.family && prefixEnd(m) < p.start)) lo = mid + 1;
    else if (m.family > p.family || m.start > p.start) hi = mid - 1;
    else return prefixEnd(m) >= prefixEnd(p) ? m : undefined;
  }
  return undefined;
}
