import type { AnyAcrAccess } from '../api/types.js';
import { buildAddressSet, type AddressSet } from '../addresses/address-set.js';
import type { DnsAnswer, DnsResolver } from '../addresses/dns.js';
import type { ServiceTagFeed } from '../addresses/servicetags.js';
import { allHosts, type EndpointResolver, type RegistryEndpoints } from '../endpoints/endpoints.js';
import { podPlaneIntent, type EgressIntent } from './intent.js';

export interface ResolveDeps {
  endpoints: EndpointResolver;
  /** The feed for the registry's cloud. */
  feedFor(endpoints: RegistryEndpoints): Promise<ServiceTagFeed>;
  /** Required when a resource lists DNS among its address sources. */
  dns?: Pick<DnsResolver, 'resolve'>;
  /** Namespaces a ClusterAcrAccess's namespaceSelector matched. */
  namespacesFor?(resource: AnyAcrAccess): Promise<string[]>;
}

export interface Resolved {
  endpoints: RegistryEndpoints;
  addresses: AddressSet;
  intents: EgressIntent[];
}

/** Registry → endpoints → addresses → intents: everything up to planning, for one resource. */
export async function resolveResource(resource: AnyAcrAccess, deps: ResolveDeps): Promise<Resolved> {
  const spec = resource.spec;
  const includeMicrosoftContainerRegistry = spec.includeMicrosoftContainerRegistry ?? false;
  const endpoints = await deps.endpoints.resolve(spec.registry, { includeMicrosoftContainerRegistry });
  const sources = spec.addressSources ?? ['ServiceTags', 'DNS'];
  const families = spec.ipFamilies ?? ['IPv4', 'IPv6'];
  let dnsAnswers: DnsAnswer[] | undefined;
  if (sources.includes('DNS')) {
    if (!deps.dns) throw new Error('addressSources includes DNS but no DNS resolver is configured');
    const familyNumbers = families.map((f) => (f === 'IPv4' ? 4 : 6));
    const dns = deps.dns;
    dnsAnswers = await Promise.all(
      allHosts(endpoints)
        .filter((h) => !h.startsWith('*.'))
        .map((h) => dns.resolve(h, familyNumbers)),
    );
  }
  const feed =
    sources.includes('ServiceTags') || includeMicrosoftContainerRegistry
      ? await deps.feedFor(endpoints)
      : emptyFeed(endpoints);
  const addresses = buildAddressSet({
    feed,
    endpoints,
    sources,
    families,
    includeMicrosoftContainerRegistry,
    dnsAnswers,
  });
  const namespaces =
    resource.kind === 'ClusterAcrAccess' && deps.namespacesFor ? await deps.namespacesFor(resource) : [];
  return { endpoints, addresses, intents: [podPlaneIntent(resource, endpoints, addresses, namespaces)] };
}

/** DNS-only resources need no feed; this stands in for one with no tags. */
function emptyFeed(endpoints: RegistryEndpoints): ServiceTagFeed {
  return { changeNumber: 0, cloud: endpoints.cloud.serviceTagsCloud, tags: new Map(), source: 'none (DNS only)' };
}
