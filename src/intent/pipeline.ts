import type { AnyAcrAccess } from '../api/types.js';
import { buildAddressSet, dnsOnlyFeed, resolveEndpointHosts, type AddressSet } from '../addresses/address-set.js';
import type { DnsAnswer, DnsResolver } from '../addresses/dns.js';
import type { ServiceTagFeed } from '../addresses/servicetags.js';
import type { EndpointResolver, RegistryEndpoints } from '../endpoints/endpoints.js';
import { nodePlaneIntent, podPlaneIntent, type EgressIntent } from './intent.js';

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
    dnsAnswers = await resolveEndpointHosts(deps.dns, endpoints, families);
  }
  const feed =
    sources.includes('ServiceTags') || includeMicrosoftContainerRegistry
      ? await deps.feedFor(endpoints)
      : dnsOnlyFeed(endpoints);
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
  return { endpoints, addresses, intents: intentsFor(resource, endpoints, addresses, namespaces) };
}

/**
 * The intents of a resource, one per plane it asks for: the pod plane (an AcrAccess's namespace, or the namespaces
 * a ClusterAcrAccess selected) and the node plane (a ClusterAcrAccess with a nodeSelector).
 */
export function intentsFor(
  resource: AnyAcrAccess,
  endpoints: RegistryEndpoints,
  addresses: AddressSet,
  namespaces: string[],
): EgressIntent[] {
  const intents = [podPlaneIntent(resource, endpoints, addresses, namespaces)];
  const node = nodePlaneIntent(resource, endpoints, addresses);
  if (node) intents.push(node);
  return intents;
}
