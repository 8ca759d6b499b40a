/**
 * IPv4/IPv6 prefixes: parsing (hand-rolled, allocation-light), formatting (RFC 5952) and word arithmetic.
 * Addresses are four unsigned 32-bit words, most significant first (IPv4 uses the last word only): plain number
 * arithmetic, several times faster than BigInt on the 95,000-prefix feed.
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
export const POW2 = Array.from({ length: 33 }, (_, n) => 2 ** n);

export class PrefixError extends Error {}

export function parsePrefix(text: string): Prefix {
  const p = tryParsePrefix(text);
  if (!p) throw new PrefixError(`"${text}" is not an IPv4 or IPv6 prefix`);
  return p;
}

/**
 * The same acceptance as parsePrefix without building anything: feed ingest validates ~95,000 prefixes, and the
 * Prefix objects and word arrays it would allocate only to drop them were most of its cost. The forms the feeds
 * write, d.d.d.d/n and hex groups with at most one "::" then /n, are accepted in one pass each; anything else, every
 * invalid text included, is decided by parsePrefix's own path. So the fast paths must never accept what parsePrefix
 * refuses, but may pass on anything unusual.
 */
export function isPrefix(text: string): boolean {
  return isPlainIPv4Prefix(text) || isPlainIPv6Prefix(text) || tryParsePrefix(text) !== undefined;
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

/**
 * The slash of a text ending in "/" and one to `maxDigits` characters, or -1. Found first, it bounds the scans of
 * the address before it: it is none of the characters they continue on, so every read stops at it or earlier and
 * needs no length check of its own.
 */
function slashNearEnd(text: string, maxDigits: number): number {
  for (let at = text.length - 2; at > 0 && at >= text.length - 1 - maxDigits; at--) {
    if (text.charCodeAt(at) === 47) return at;
  }
  return -1;
}

/**
 * d.d.d.d/n with one to three digits per part, each at most 255, and n at most 32 in one or two digits: the feed's
 * IPv4 form, three quarters of its prefixes. Shaped for V8, as measured on the public feed: `d >>> 0 > 9` is "not a
 * digit" in one unsigned comparison, and the unrolled digits beat a loop counting them, or a helper returning them,
 * by 6–9% of the whole ingest time. false also for valid forms this does not cover (no length, say).
 */
function isPlainIPv4Prefix(text: string): boolean {
  const slash = slashNearEnd(text, 2);
  if (slash < 0 || scanLength(text, slash, 32) < 0) return false;
  let i = 0;
  for (let part = 0; ; part++) {
    let value = text.charCodeAt(i) - 48;
    if (value >>> 0 > 9) return false;
    let d = text.charCodeAt(++i) - 48;
    if (d >>> 0 <= 9) {
      value = value * 10 + d;
      d = text.charCodeAt(++i) - 48;
      if (d >>> 0 <= 9) {
        value = value * 10 + d;
        d = text.charCodeAt(++i) - 48; // a fourth digit fails below: it is neither the dot nor the slash
      }
    }
    if (value > 255) return false;
    if (part === 3) return i === slash;
    if (d !== 46 - 48) return false;
    i++; // past a dot, so still at most the slash
  }
}

/** [0-9a-fA-F], in two unsigned comparisons (c | 32 lowercases a letter). */
function isHexDigit(c: number): boolean {
  return (c - 48) >>> 0 <= 9 || ((c | 32) - 97) >>> 0 <= 5;
}

/**
 * Hex groups of one to four digits separated by ":", with at most one "::" (eight groups without it, at most seven
 * with it), then /n with n at most 128: parseIPv6's rules for the feed's IPv6 form, in one pass bounded by the slash
 * as in isPlainIPv4Prefix. false also for valid forms this does not cover (an embedded IPv4 tail, no length).
 */
function isPlainIPv6Prefix(text: string): boolean {
  const slash = slashNearEnd(text, 3);
  if (slash < 0 || scanLength(text, slash, 128) < 0) return false;
  let i = 0;
  let groups = 0;
  let gap = false;
  let c = text.charCodeAt(0);
  if (c === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = true;
    i = 2; // text[1] is a colon, so the slash is at 2 or later
    c = text.charCodeAt(i);
  }
  while (i < slash) {
    // One to four hex digits, unrolled as in isPlainIPv4Prefix; a fifth fails below, being neither colon nor slash.
    if (!isHexDigit(c)) return false;
    c = text.charCodeAt(++i);
    if (isHexDigit(c)) {
      c = text.charCodeAt(++i);
      if (isHexDigit(c)) {
        c = text.charCodeAt(++i);
        if (isHexDigit(c)) c = text.charCodeAt(++i);
      }
    }
    groups++;
    if (c !== 58) break; // the slash, or a character this form does not have
    c = text.charCodeAt(++i);
    if (c === 58) {
      if (gap) return false;
      gap = true;
      c = text.charCodeAt(++i);
    } else if (c === 47) return false; // a single colon before the slash
  }
  return i === slash && (gap ? groups <= 7 : groups === 8);
}

/** The prefix length after the slash at `slash`, or -1. */
export function scanLength(text: string, slash: number, bits: number): number {
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
export function scanIPv4(text: string, from: number, to: number): number {
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
export function parseIPv6(text: string, to: number): Words | undefined {
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
export function clearLow(w: Words, n: number): Words {
  const out: Words = [w[0], w[1], w[2], w[3]];
  for (let i = 3; i >= 0 && n > 0; i--, n -= 32) out[i] = n >= 32 ? 0 : (w[i]! & ~(POW2[n]! - 1)) >>> 0;
  return out;
}

/** The lowest `n` bits set to 1. */
export function setLow(w: Words, n: number): Words {
  const out: Words = [w[0], w[1], w[2], w[3]];
  for (let i = 3; i >= 0 && n > 0; i--, n -= 32) out[i] = n >= 32 ? 0xffffffff : (w[i]! | (POW2[n]! - 1)) >>> 0;
  return out;
}

/** w + 1, or undefined past the top of the address space. */
export function increment(w: Words): Words | undefined {
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

export function compareWords(a: Words, b: Words): number {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

export function trailingZeros(w: Words, max: number): number {
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

export function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups as "::". */
export function formatIPv6(w: Words): string {
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
