/**
 * IPv4/IPv6 prefix arithmetic for the address sets this operator writes. `cover` returns the minimal list of
 * prefixes covering exactly the union of its input (the same answer as Python's ipaddress.collapse_addresses),
 * sorted by address, IPv4 first. Addresses are four unsigned 32-bit words, most significant first (IPv4 uses the
 * last word only): plain number arithmetic, several times faster than BigInt on the 95,000-prefix feed.
 */
export type Family = 4 | 6;
export type Words = [number, number, number, number];

export interface Prefix {
  family: Family;
  /** First address. */
  start: Words;
  length: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };
/** 2^n for n = 0…32; a table beats Math.pow with a variable exponent in the hot loops. */
const POW2 = Array.from({ length: 33 }, (_, n) => 2 ** n);

export class PrefixError extends Error {}

export function parsePrefix(text: string): Prefix {
  const p = tryParsePrefix(text);
  if (!p) throw new PrefixError(`"${text}" is not an IPv4 or IPv6 prefix`);
  return p;
}

export function isPrefix(text: string): boolean {
  return tryParsePrefix(text) !== undefined;
}

function tryParsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf('/');
  const end = slash < 0 ? text.length : slash;
  const colon = text.indexOf(':');
  if (colon < 0 || colon > end) {
    const length = slash < 0 ? 32 : scanLength(text, slash, 32);
    const value = scanIPv4(text, 0, end);
    if (length < 0 || value < 0) return undefined;
    return { family: 4, start: [0, 0, 0, value - (value % POW2[32 - length]!)], length };
  }
  const length = slash < 0 ? 128 : scanLength(text, slash, 128);
  const start = parseIPv6(text, end);
  if (length < 0 || !start) return undefined;
  // Host bits are cleared, as a router would; the feed is not trusted to be canonical.
  return { family: 6, start: clearLow(start, 128 - length), length };
}

/** The prefix length after the slash at `slash`, or -1. */
function scanLength(text: string, slash: number, bits: number): number {
  const digits = text.length - slash - 1;
  if (digits < 1 || digits > 3) return -1;
  let length = 0;
  for (let i = slash + 1; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    length = length * 10 + c;
  }
  return length > bits ? -1 : length;
}

/** A dotted IPv4 address in text[from, to) as an unsigned number, or -1. */
function scanIPv4(text: string, from: number, to: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i <= to; i++) {
    const c = i === to ? 46 : text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else {
      const d = c - 48;
      if (d < 0 || d > 9 || ++digits > 3) return -1;
      part = part * 10 + d;
    }
  }
  return dots === 4 ? value : -1;
}

const groupBuffer = new Int32Array(8);

/** Hand-rolled into a fixed buffer: the public feed carries some 24,000 IPv6 prefixes. */
function parseIPv6(text: string, to: number): Words | undefined {
  const g = groupBuffer;
  let count = 0;
  let gap = -1;
  let i = 0;
  if (to >= 2 && text.charCodeAt(0) === 58 && text.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < to) {
    let value = 0;
    let digits = 0;
    const begin = i;
    while (i < to) {
      const c = text.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      value = value * 16 + d;
      digits++;
      i++;
    }
    if (i < to && text.charCodeAt(i) === 46) {
      // An embedded IPv4 tail (::ffff:1.2.3.4) fills the last two groups.
      const v4 = scanIPv4(text, begin, to);
      if (v4 < 0 || count > 6) return undefined;
      g[count++] = Math.floor(v4 / 65536);
      g[count++] = v4 % 65536;
      break;
    }
    if (digits === 0 || digits > 4 || count === 8) return undefined;
    g[count++] = value;
    if (i === to) break;
    if (text.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < to && text.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined;
      gap = count;
      i++;
    } else if (i === to) return undefined;
  }
  if (gap >= 0) {
    if (count > 7) return undefined;
    // Move the groups after "::" to the end and zero the gap.
    const tail = count - gap;
    for (let k = 0; k < tail; k++) g[7 - k] = g[count - 1 - k]!;
    for (let k = gap; k < 8 - tail; k++) g[k] = 0;
  } else if (count !== 8) return undefined;
  return [g[0]! * 65536 + g[1]!, g[2]! * 65536 + g[3]!, g[4]! * 65536 + g[5]!, g[6]! * 65536 + g[7]!];
}

/** The lowest `n` bits set to 0. */
function clearLow(w: Words, n: number): Words {
  const out: Words = [w[0], w[1], w[2], w[3]];
  for (let i = 3; i >= 0 && n > 0; i--, n -= 32) out[i] = n >= 32 ? 0 : (w[i]! & ~(POW2[n]! - 1)) >>> 0;
  return out;
}

/** The lowest `n` bits set to 1. */
function setLow(w: Words, n: number): Words {
  const out: Words = [w[0], w[1], w[2], w[3]];
  for (let i = 3; i >= 0 && n > 0; i--, n -= 32) out[i] = n >= 32 ? 0xffffffff : (w[i]! | (POW2[n]! - 1)) >>> 0;
  return out;
}

/** w + 1, or undefined past the top of the address space. */
function increment(w: Words): Words | undefined {
  const out: Words = [w[0], w[1], w[2], w[3]];
  for (let i = 3; i >= 0; i--) {
    if (out[i] !== 0xffffffff) {
      out[i] = out[i]! + 1;
      return out;
    }
    out[i] = 0;
  }
  return undefined;
}

function compareWords(a: Words, b: Words): number {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

function trailingZeros(w: Words, max: number): number {
  let n = 0;
  for (let i = 3; i >= 0; i--) {
    const x = w[i]!;
    if (x !== 0) return Math.min(max, n + 31 - Math.clz32(x & -x));
    n += 32;
  }
  return max;
}

export function formatPrefix(p: Prefix): string {
  return `${p.family === 4 ? formatIPv4(p.start[3]) : formatIPv6(p.start)}/${p.length}`;
}

function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups as "::". */
function formatIPv6(w: Words): string {
  const groups = [
    w[0] >>> 16,
    w[0] & 0xffff,
    w[1] >>> 16,
    w[1] & 0xffff,
    w[2] >>> 16,
    w[2] & 0xffff,
    w[3] >>> 16,
    w[3] & 0xffff,
  ];
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
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLen - 1;
      continue;
    }
    if (text !== '' && !text.endsWith(':')) text += ':';
    text += groups[i]!.toString(16);
  }
  return text;
}

export function comparePrefixes(a: Prefix, b: Prefix): number {
  return a.family - b.family || compareWords(a.start, b.start) || a.length - b.length;
}

/** Last address of a prefix. */
export function prefixEnd(p: Prefix): Words {
  return setLow(p.start, BITS[p.family] - p.length);
}

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
