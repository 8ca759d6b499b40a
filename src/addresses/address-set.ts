import type { AddressSource, IpFamily } from '../api/types.js';
import { allHosts, hostRequirement, type HostRequirement, type RegistryEndpoints } from '../endpoints/endpoints.js';
import { containingPrefix, cover, formatPrefix, parsePrefix, type Prefix } from './cidr.js';
import { DnsError, type DnsAnswer, type DnsResolver, type DnsStatus } from './dns.js';
import { REGISTRY_TAG_FAMILIES, regionalTag } from './regions.js';
import type { ServiceTag, ServiceTagFeed } from './servicetags.js';

/** One endpoint host as DNS saw it. `NotInUse`: an optional host without records (NXDOMAIN or NODATA). */
export interface DnsEntry {
  host: string;
  state: 'Resolved' | 'NotInUse';
  /** The DNS answer: OK, or which negative answer made the host not in use. */
  status: DnsStatus;
  addresses: string[];
}

/** The addresses an IP-only backend allows for one registry, with where each came from. */
export interface AddressSet {
  ipv4: string[];
  ipv6: string[];
  /** Service tags used, with their own change numbers. */
  tags: { name: string; changeNumber: number; prefixes: number }[];
  /** Hosts resolved through DNS: their answers, and which optional hosts are not in use. */
  dns: DnsEntry[];
  /** Output prefix → what contributed to it (tag names, `dns:<host>`). */
  origins: Record<string, string[]>;
  feed: { changeNumber: number; cloud: string; source: string; published?: string };
}

export class AddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressError';
  }
}

/**
 * DNS could not give a usable answer for an endpoint host. `ResolverFailure`: the resolver failed (timeout,
 * SERVFAIL, REFUSED), so nothing is known. `RequiredHostMissing`: DNS answered that a required host has no
 * records (NXDOMAIN, or NODATA in every family asked for). A DnsError, not an AddressError: both may pass (a
 * resolver recovers, a registry being created appears), so callers report DNSFailed and retry, never Stalled.
 */
export class HostResolutionError extends DnsError {
  constructor(
    host: string,
    readonly kind: 'ResolverFailure' | 'RequiredHostMissing',
    /** Node's error code for a resolver failure; NXDOMAIN or NODATA for a missing host. */
    code: string,
    message: string,
  ) {
    super(host, code, message);
    this.name = 'HostResolutionError';
  }
}

export function familyNumbers(families: readonly IpFamily[]): (4 | 6)[] {
  return families.map((f) => (f === 'IPv4' ? 4 : 6));
}

/** Hosts DNS can answer for: every endpoint host but the wildcards. */
export function resolvableHosts(endpoints: RegistryEndpoints): string[] {
  return allHosts(endpoints).filter((h) => !h.startsWith('*.'));
}

/**
 * DNS answers for every resolvable endpoint host, in the families asked for. A negative answer (NXDOMAIN,
 * NODATA) for an optional host is returned as is: that host is not in use. Throws HostResolutionError, for the
 * first host in name order, when the resolver failed for any host or a required host has no records.
 */
export async function resolveEndpointHosts(
  dns: Pick<DnsResolver, 'resolve'>,
  endpoints: RegistryEndpoints,
  families: readonly IpFamily[],
): Promise<DnsAnswer[]> {
  const wanted = familyNumbers(families);
  const hosts = resolvableHosts(endpoints);
  const settled = await Promise.allSettled(hosts.map((h) => dns.resolve(h, wanted)));
  const answers: DnsAnswer[] = [];
  for (const [i, result] of settled.entries()) {
    const host = hosts[i]!;
    if (result.status === 'rejected') throw resolverFailure(host, result.reason);
    const missing = missingRequiredHost(result.value, hostRequirement(endpoints, host), families);
    if (missing) throw new HostResolutionError(host, 'RequiredHostMissing', result.value.status, missing);
    answers.push(result.value);
  }
  return answers;
}

function resolverFailure(host: string, reason: unknown): HostResolutionError {
  const code = reason instanceof DnsError ? reason.code : 'EUNKNOWN';
  const detail = reason instanceof Error ? reason.message : String(reason);
  return new HostResolutionError(host, 'ResolverFailure', code, `the DNS resolver failed for ${host}: ${detail}`);
}

function missingRequiredHost(
  answer: DnsAnswer,
  requirement: HostRequirement,
  families: readonly IpFamily[],
): string | undefined {
  if (answer.status === 'OK' || requirement === 'Optional') return undefined;
  const what =
    answer.status === 'NXDOMAIN' ? 'does not exist (NXDOMAIN)' : `has no ${families.join(' or ')} address (NODATA)`;
  return `${answer.host} is required but ${what}; check spec.registry (loginServer, regions, dataEndpoints) and the resolver's zones`;
}

/** Stands in for a feed when a resource uses DNS only and no feed is needed. */
export function dnsOnlyFeed(endpoints: RegistryEndpoints): ServiceTagFeed {
  return { changeNumber: 0, cloud: endpoints.cloud.serviceTagsCloud, tags: new Map(), source: 'none (DNS only)' };
}

/** Optional hosts DNS says are not in use (for status). */
export function hostsNotInUse(set: Pick<AddressSet, 'dns'>): string[] {
  return set.dns.filter((d) => d.state === 'NotInUse').map((d) => d.host);
}

export interface AddressSetInput {
  feed: ServiceTagFeed;
  endpoints: RegistryEndpoints;
  sources: readonly AddressSource[];
  families: readonly IpFamily[];
  includeMicrosoftContainerRegistry: boolean;
  /** DNS answers for the endpoint hosts (required when sources include DNS), as resolveEndpointHosts gives them. */
  dnsAnswers?: readonly DnsAnswer[] | undefined;
}

/**
 * For every registry region R: the tags named AzureContainerRegistry.R and Storage.R; plus the cloud's MCR tags
 * when MCR is included; plus DNS answers; reduced to the minimal cover per family. A region the feed has no tag
 * for is an error, never a silent fall back to the global tag.
 */
export function buildAddressSet(input: AddressSetInput): AddressSet {
  const { feed, endpoints } = input;
  const feedLabel = `Service Tags feed changeNumber ${feed.changeNumber} (${feed.source})`;
  if (feed.cloud !== endpoints.cloud.serviceTagsCloud) {
    throw new AddressError(
      `${endpoints.loginServer} is in ${endpoints.cloud.name} but the ${feedLabel} is for cloud ${feed.cloud}`,
    );
  }
  const used = input.sources.includes('ServiceTags') ? serviceTagsFor(input, feedLabel) : [];
  const contributions: [Prefix, string][] = [];
  for (const tag of used) for (const p of tag.addressPrefixes) contributions.push([parsePrefix(p), tag.name]);
  const dns = input.sources.includes('DNS') ? dnsEntries(input) : [];
  for (const entry of dns) for (const a of entry.addresses) contributions.push([parsePrefix(a), `dns:${entry.host}`]);
  const wanted = new Set(familyNumbers(input.families));
  const kept = contributions.filter(([p]) => wanted.has(p.family));
  const covered = cover(kept.map(([p]) => p));
  const origins: Record<string, Set<string>> = {};
  for (const [p, origin] of kept) {
    const key = formatPrefix(containingPrefix(covered, p)!);
    (origins[key] ??= new Set()).add(origin);
  }
  const set: AddressSet = {
    ipv4: covered.filter((p) => p.family === 4).map(formatPrefix),
    ipv6: covered.filter((p) => p.family === 6).map(formatPrefix),
    tags: used.map((t) => ({ name: t.name, changeNumber: t.changeNumber, prefixes: t.addressPrefixes.length })),
    dns,
    origins: Object.fromEntries(Object.entries(origins).map(([k, v]) => [k, [...v].sort()])),
    feed: { changeNumber: feed.changeNumber, cloud: feed.cloud, source: feed.source },
  };
  if (feed.published) set.feed.published = feed.published;
  return set;
}

function serviceTagsFor(input: AddressSetInput, feedLabel: string): ServiceTag[] {
  const { feed, endpoints } = input;
  const used: ServiceTag[] = [];
  for (const region of endpoints.regions) {
    for (const family of REGISTRY_TAG_FAMILIES) {
      const tag = regionalTag(feed, family, region);
      if (!tag) {
        throw new AddressError(
          `region ${region} has no ${family} service tag in the ${feedLabel}; check spec.registry.regions`,
        );
      }
      used.push(tag);
    }
  }
  if (input.includeMicrosoftContainerRegistry) {
    for (const name of endpoints.cloud.mcrServiceTags) {
      const tag = feed.tags.get(name);
      if (!tag) {
        throw new AddressError(
          `the ${feedLabel} has no ${name} tag, needed for Microsoft Container Registry in ${endpoints.cloud.name}`,
        );
      }
      used.push(tag);
    }
  }
  return used;
}

function dnsEntries(input: AddressSetInput): DnsEntry[] {
  const answers = new Map((input.dnsAnswers ?? []).map((a) => [a.host, a]));
  return resolvableHosts(input.endpoints).map((host) => {
    const answer = answers.get(host);
    if (!answer) throw new AddressError(`no DNS answer for ${host}`);
    // resolveEndpointHosts has already refused these; answers from elsewhere get the same rule.
    const missing = missingRequiredHost(answer, hostRequirement(input.endpoints, host), input.families);
    if (missing) throw new AddressError(missing);
    return {
      host,
      state: answer.status === 'OK' ? 'Resolved' : 'NotInUse',
      status: answer.status,
      addresses: answer.addresses,
    };
  });
}
