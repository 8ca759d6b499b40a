import type { AddressSource, IpFamily } from '../api/types.js';
import { allHosts, type RegistryEndpoints } from '../endpoints/endpoints.js';
import { containingPrefix, cover, formatPrefix, parsePrefix, type Prefix } from './cidr.js';
import type { DnsAnswer, DnsResolver } from './dns.js';
import { regionalTags } from './regions.js';
import type { ServiceTag, ServiceTagFeed } from './servicetags.js';

/** The addresses an IP-only backend allows for one registry, with where each came from. */
export interface AddressSet {
  ipv4: string[];
  ipv6: string[];
  /** Service tags used, with their own change numbers. */
  tags: { name: string; changeNumber: number; prefixes: number }[];
  /** Hosts resolved through DNS and their answers. */
  dns: { host: string; addresses: string[] }[];
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

export function familyNumbers(families: readonly IpFamily[]): (4 | 6)[] {
  return families.map((f) => (f === 'IPv4' ? 4 : 6));
}

/** Hosts DNS can answer for: every endpoint host but the wildcards. */
export function resolvableHosts(endpoints: RegistryEndpoints): string[] {
  return allHosts(endpoints).filter((h) => !h.startsWith('*.'));
}

/** DNS answers for every resolvable endpoint host, in the families asked for. */
export function resolveEndpointHosts(
  dns: Pick<DnsResolver, 'resolve'>,
  endpoints: RegistryEndpoints,
  families: readonly IpFamily[],
): Promise<DnsAnswer[]> {
  const wanted = familyNumbers(families);
  return Promise.all(resolvableHosts(endpoints).map((h) => dns.resolve(h, wanted)));
}

/** Stands in for a feed when a resource uses DNS only and no feed is needed. */
export function dnsOnlyFeed(endpoints: RegistryEndpoints): ServiceTagFeed {
  return { changeNumber: 0, cloud: endpoints.cloud.serviceTagsCloud, tags: new Map(), source: 'none (DNS only)' };
}

export interface AddressSetInput {
  feed: ServiceTagFeed;
  endpoints: RegistryEndpoints;
  sources: readonly AddressSource[];
  families: readonly IpFamily[];
  includeMicrosoftContainerRegistry: boolean;
  /** DNS answers for the endpoint hosts (required when sources include DNS). */
  dnsAnswers?: readonly DnsAnswer[];
}

/**
 * For every registry region R: AzureContainerRegistry.R ∪ Storage.R from the feed; plus MicrosoftContainerRegistry
 * and AzureFrontDoor.FirstParty when MCR is included; plus DNS answers; reduced to the minimal cover per family.
 * A region the feed has no tag for is an error, never a silent fall back to the global tag.
 */
export function buildAddressSet(input: AddressSetInput): AddressSet {
  const { feed, endpoints } = input;
  const feedLabel = `Service Tags feed changeNumber ${feed.changeNumber} (${feed.source})`;
  if (feed.cloud !== endpoints.cloud.serviceTagsCloud) {
    throw new AddressError(
      `${endpoints.loginServer} is in ${endpoints.cloud.name} but the ${feedLabel} is for cloud ${feed.cloud}`,
    );
  }
  const used: ServiceTag[] = [];
  if (input.sources.includes('ServiceTags')) {
    for (const region of endpoints.regions) {
      for (const family of ['AzureContainerRegistry', 'Storage']) {
        const tags = regionalTags(feed, family, region);
        if (tags.length === 0) {
          throw new AddressError(
            `region ${region} has no ${family} service tag in the ${feedLabel}; check spec.registry.regions`,
          );
        }
        used.push(...tags);
      }
    }
    if (input.includeMicrosoftContainerRegistry) {
      for (const name of ['MicrosoftContainerRegistry', 'AzureFrontDoor.FirstParty']) {
        const tag = feed.tags.get(name);
        if (!tag)
          throw new AddressError(`the ${feedLabel} has no ${name} tag, needed for Microsoft Container Registry`);
        used.push(tag);
      }
    }
  }
  const contributions: [Prefix, string][] = [];
  for (const tag of used) for (const p of tag.addressPrefixes) contributions.push([parsePrefix(p), tag.name]);
  const dns: AddressSet['dns'] = [];
  if (input.sources.includes('DNS')) {
    const answers = new Map((input.dnsAnswers ?? []).map((a) => [a.host, a]));
    for (const host of resolvableHosts(endpoints)) {
      const answer = answers.get(host);
      if (!answer) throw new AddressError(`no DNS answer for ${host}`);
      dns.push({ host, addresses: answer.addresses });
      for (const a of answer.addresses) contributions.push([parsePrefix(a), `dns:${host}`]);
    }
  }
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
