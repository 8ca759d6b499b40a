/**
 * Checks on a Service Tags feed as data from outside: every prefix must look like an Azure service range (bounded
 * width, globally reachable unicast), and a newer feed must not have lost most of any tag this project reads.
 */
import { containingPrefix, cover, parsePrefix, type Prefix } from './cidr.js';
import { POW2, scanLength } from './prefix.js';
import { isRelevantTag, type ServiceTagFeed } from './servicetags.js';

/**
 * The widest prefix accepted per family. The real feeds' widest are /14 (IPv4) and /39 (IPv6) across every tag
 * (public 2025-11-03, China and US Government 2026-06-22), so these bounds leave a margin of 64× and 8 million×
 * in address count while refusing a /0 or any block the size of a whole registry allocation.
 */
export const WIDEST_PREFIX = { 4: 8, 6: 16 } as const;

interface ForbiddenRange {
  prefix: string;
  what: string;
}

/**
 * Ranges no Azure service range may overlap. IPv4: the entries of the IANA IPv4 Special-Purpose Address Registry
 * marked "Globally Reachable: False" (the least specific where they nest; the two global anycast /32s inside
 * 192.0.0.0/24 are not Azure ranges either), plus multicast from the IPv4 Multicast Address Space registry.
 * IPv6: everything outside 2000::/3, the only block the IANA IPv6 Address Space registry allocates as global
 * unicast (so ::/8, ::1, IPv4-mapped, 64:ff9b:1::/48, 100::/64, 5f00::/16, fc00::/7, fe80::/10 and ff00::/8 are
 * all refused), plus the Special-Purpose entries inside it that are not globally reachable (False or N/A).
 */
export const FORBIDDEN_RANGES: readonly ForbiddenRange[] = [
  { prefix: '0.0.0.0/8', what: '"this network" (RFC 791)' },
  { prefix: '10.0.0.0/8', what: 'private-use (RFC 1918)' },
  { prefix: '100.64.0.0/10', what: 'shared address space (RFC 6598)' },
  { prefix: '127.0.0.0/8', what: 'loopback (RFC 1122)' },
  { prefix: '169.254.0.0/16', what: 'link-local (RFC 3927)' },
  { prefix: '172.16.0.0/12', what: 'private-use (RFC 1918)' },
  { prefix: '192.0.0.0/24', what: 'IETF protocol assignments (RFC 6890)' },
  { prefix: '192.0.2.0/24', what: 'documentation (RFC 5737)' },
  { prefix: '192.168.0.0/16', what: 'private-use (RFC 1918)' },
  { prefix: '198.18.0.0/15', what: 'benchmarking (RFC 2544)' },
  { prefix: '198.51.100.0/24', what: 'documentation (RFC 5737)' },
  { prefix: '203.0.113.0/24', what: 'documentation (RFC 5737)' },
  { prefix: '224.0.0.0/4', what: 'multicast (RFC 5771)' },
  { prefix: '240.0.0.0/4', what: 'reserved, and limited broadcast (RFC 1112, RFC 919)' },
  { prefix: '::/3', what: 'outside IPv6 global unicast 2000::/3 (RFC 4291)' },
  { prefix: '4000::/2', what: 'outside IPv6 global unicast 2000::/3 (RFC 4291)' },
  { prefix: '8000::/1', what: 'outside IPv6 global unicast 2000::/3 (RFC 4291)' },
  { prefix: '2001::/23', what: 'IETF protocol assignments (RFC 2928)' },
  { prefix: '2001:db8::/32', what: 'documentation (RFC 3849)' },
  { prefix: '2002::/16', what: '6to4, which embeds any IPv4 address (RFC 3056)' },
  { prefix: '3fff::/20', what: 'documentation (RFC 9637)' },
];

const forbidden = FORBIDDEN_RANGES.map((r) => ({ ...r, parsed: parsePrefix(r.prefix) }));
type Forbidden = (typeof forbidden)[number];

/**
 * The forbidden ranges touching each first IPv4 octet and each first IPv6 group. A prefix within the width bound
 * lies inside one octet (group), so most prefixes are cleared by one lookup: the check then costs about as much as
 * the parse, where trying every range on every parsed prefix cost as much again.
 */
const byOctet: Forbidden[][] = Array.from({ length: 256 }, () => []);
const byGroup: (readonly Forbidden[] | undefined)[] = new Array<Forbidden[] | undefined>(65536);
for (const f of forbidden) {
  const v4 = f.parsed.family === 4;
  const first = v4 ? f.parsed.start[3] >>> 24 : f.parsed.start[0] >>> 16;
  const span = POW2[Math.max(0, (v4 ? 8 : 16) - f.parsed.length)]!;
  // ::/3, 4000::/2 and 8000::/1 span 57,344 groups: they share one list each (copied when a group gains a second
  // range), where an array per group cost some 20 MiB of the idle process.
  const alone: readonly Forbidden[] = [f];
  for (let i = first; i < first + span; i++) {
    if (v4) byOctet[i]!.push(f);
    else byGroup[i] = byGroup[i] ? [...byGroup[i]!, f] : alone;
  }
}

/** The first octet (IPv4) or 16-bit group (IPv6) of a valid prefix's text, without parsing the rest. */
function leadingBits(text: string, v6: boolean): number {
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : v6 && c >= 97 && c <= 102 ? c - 87 : v6 && c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) break;
    value = value * (v6 ? 16 : 10) + d;
  }
  return value;
}

/** Two aligned prefixes overlap exactly when one contains the other: they agree on the shorter length's bits. */
function overlaps(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  let bits = Math.min(a.length, b.length);
  for (let i = a.family === 4 ? 3 : 0; i < 4 && bits > 0; i++, bits -= 32) {
    const x = a.start[i]!;
    const y = b.start[i]!;
    if (bits >= 32 ? x !== y : Math.floor(x / POW2[32 - bits]!) !== Math.floor(y / POW2[32 - bits]!)) return false;
  }
  return true;
}

export interface OutOfBoundsPrefix {
  tag: string;
  prefix: string;
  problem: string;
}

/** Checks every prefix of the feed: all tags, since a feed that lies about one tag is not trusted for the others. */
export function outOfBoundsPrefixes(feed: ServiceTagFeed): OutOfBoundsPrefix[] {
  const found: OutOfBoundsPrefix[] = [];
  for (const tag of feed.tags.values()) {
    for (const text of tag.addressPrefixes) {
      const slash = text.indexOf('/');
      const v6 = text.indexOf(':') >= 0;
      const bits = v6 ? 128 : 32;
      const length = slash < 0 ? bits : scanLength(text, slash, bits);
      const widest = WIDEST_PREFIX[v6 ? 6 : 4];
      if (length < widest) {
        found.push({ tag: tag.name, prefix: text, problem: `wider than /${widest}` });
        continue;
      }
      const candidates = v6 ? byGroup[leadingBits(text, true)] : byOctet[leadingBits(text, false)];
      if (!candidates?.length) continue;
      const p = parsePrefix(text);
      const hit = candidates.find((f) => overlaps(p, f.parsed));
      if (hit) found.push({ tag: tag.name, prefix: text, problem: `overlaps ${hit.prefix}, ${hit.what}` });
    }
  }
  return found;
}

/** Why the feed is out of bounds (the first few offenders), or undefined when every prefix is within bounds. */
export function feedBoundsProblem(feed: ServiceTagFeed): string | undefined {
  const found = outOfBoundsPrefixes(feed);
  if (!found.length) return undefined;
  const shown = found.slice(0, 3).map((f) => `${f.tag} has ${f.prefix}, ${f.problem}`);
  const more = found.length > shown.length ? `; and ${found.length - shown.length} more` : '';
  return `${feed.source} (changeNumber ${feed.changeNumber}) is not an Azure service feed: ${shown.join('; ')}${more}`;
}

export interface TagShrink {
  tag: string;
  before: number;
  /** Prefixes of the old tag that the new tag no longer covers (a prefix merged into a wider one is not lost). */
  lost: number;
  /** Prefixes in the new tag; undefined when the tag is gone. */
  after: number | undefined;
}

/**
 * The relevant tags (each regional AzureContainerRegistry.* and Storage.*, the global ones, MicrosoftContainerRegistry*
 * and AzureFrontDoor.FirstParty) that lost more than `maxShrink` of their prefixes or disappeared. Per tag, so
 * that large tags such as AzureFrontDoor.FirstParty cannot mask one region losing most of its ranges.
 */
export function shrunkTags(before: ServiceTagFeed, after: ServiceTagFeed, maxShrink: number): TagShrink[] {
  const shrunk: TagShrink[] = [];
  for (const old of before.tags.values()) {
    if (!isRelevantTag(old.name) || old.addressPrefixes.length === 0) continue;
    const next = after.tags.get(old.name);
    if (!next) {
      shrunk.push({
        tag: old.name,
        before: old.addressPrefixes.length,
        lost: old.addressPrefixes.length,
        after: undefined,
      });
      continue;
    }
    const covered = cover(next.addressPrefixes.map(parsePrefix));
    let lost = 0;
    for (const text of old.addressPrefixes) if (!containingPrefix(covered, parsePrefix(text))) lost++;
    if (lost > old.addressPrefixes.length * maxShrink)
      shrunk.push({ tag: old.name, before: old.addressPrefixes.length, lost, after: next.addressPrefixes.length });
  }
  return shrunk;
}

export function describeShrink(s: TagShrink): string {
  return s.after === undefined
    ? `${s.tag} is gone (had ${s.before} prefixes)`
    : `${s.tag} lost ${s.lost} of its ${s.before} prefixes (${s.after} in the new feed)`;
}
