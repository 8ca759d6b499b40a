import type { Registry, Replication } from '@azure/arm-containerregistry';
import type { ServiceTagsAnswer, ServiceTagsReader } from '../addresses/arm-source.js';
import type { RegistryFacts, RegistryReader, RegistryResourceId } from '../endpoints/arm.js';
import { EndpointError } from '../endpoints/endpoints.js';
import type { ArmClients } from './clients.js';
import { DiscoveryError, describeAzureError } from './errors.js';

/** Errors @azure/identity throws when no token could be had: not ARM's answer, whatever status they carry. */
const CREDENTIAL_ERRORS = new Set([
  'AuthenticationError',
  'CredentialUnavailableError',
  'AggregateAuthenticationError',
]);

/**
 * A registry and its replications through @azure/arm-containerregistry. Two GETs per read for a Premium registry
 * (geo-replication is Premium only, so other tiers need just the first).
 */
export class ArmRegistryReader implements RegistryReader {
  constructor(private readonly clients: ArmClients) {}

  async read(id: RegistryResourceId): Promise<RegistryFacts> {
    const client = this.clients.containerRegistry(id.subscriptionId);
    try {
      const registry = await client.registries.get(id.resourceGroup, id.name);
      const replications: Replication[] = [];
      if (registry.sku?.tier === 'Premium' || registry.sku?.name === 'Premium') {
        for await (const r of client.replications.list(id.resourceGroup, id.name)) replications.push(r);
      }
      return registryFacts(registry, replications, id);
    } catch (err) {
      throw classifyRegistryError(err, id);
    }
  }
}

/** The SDK's Registry and Replications as the plain facts endpoint discovery works from. */
export function registryFacts(registry: Registry, replications: Replication[], id: RegistryResourceId): RegistryFacts {
  const rules = registry.networkRuleSet;
  return {
    id: registry.id ?? id.id,
    name: registry.name ?? id.name,
    location: registry.location,
    ...(registry.sku?.tier ? { sku: registry.sku.tier } : {}),
    ...(registry.loginServer ? { loginServer: registry.loginServer } : {}),
    dataEndpointEnabled: registry.dataEndpointEnabled === true,
    dataEndpointHostNames: registry.dataEndpointHostNames ?? [],
    ...(registry.publicNetworkAccess ? { publicNetworkAccess: registry.publicNetworkAccess } : {}),
    privateEndpoints: (registry.privateEndpointConnections ?? []).filter(
      (c) => c.privateLinkServiceConnectionState?.status?.toLowerCase() === 'approved',
    ).length,
    ...(rules
      ? {
          networkRuleSet: {
            ...(rules.defaultAction ? { defaultAction: rules.defaultAction } : {}),
            ipRules: (rules.ipRules ?? []).map((r) => r.iPAddressOrRange),
          },
        }
      : {}),
    replications: replications.map((r) => ({
      name: r.name ?? '',
      location: r.location,
      ...(r.provisioningState ? { provisioningState: r.provisioningState } : {}),
      ...(r.regionEndpointEnabled !== undefined ? { regionEndpointEnabled: r.regionEndpointEnabled } : {}),
    })),
  };
}

/**
 * A registry ARM does not have (404: the registry, its group or subscription) is a spec problem: EndpointError,
 * Stalled. Anything else — throttling past the SDK's retries, 5xx, network, no token, no permission yet — is an
 * outage of the Azure side: DiscoveryError, which keeps what is in force.
 */
export function classifyRegistryError(err: unknown, id: RegistryResourceId): Error {
  if (err instanceof EndpointError || err instanceof DiscoveryError) return err;
  const what = describeAzureError(err);
  const name = (err as { name?: unknown } | undefined)?.name;
  if (typeof name === 'string' && CREDENTIAL_ERRORS.has(name)) {
    return new DiscoveryError('DiscoveryFailed', `no Azure token to read registry ${id.name}: ${what.message}`);
  }
  if (what.status === 404) {
    return new EndpointError({
      field: 'spec.registry.resourceId',
      message: `Azure Resource Manager has no registry ${id.id} (${what.message})`,
    });
  }
  if (what.status === 401 || what.status === 403) {
    return new DiscoveryError(
      'DiscoveryForbidden',
      `Azure Resource Manager refused to read registry ${id.name} (${what.message}); the operator's identity needs Microsoft.ContainerRegistry/registries/read (and replications/read) on it`,
      what.status,
    );
  }
  return new DiscoveryError(
    'DiscoveryFailed',
    `Azure Resource Manager could not be read for registry ${id.name}: ${what.message}`,
    what.status,
  );
}

/** `serviceTags.list(location)` through @azure/arm-network: one request for the whole cloud's tags. */
export class ArmServiceTagsReader implements ServiceTagsReader {
  constructor(
    private readonly clients: ArmClients,
    readonly subscriptionId: string,
  ) {}

  async list(location: string): Promise<ServiceTagsAnswer> {
    try {
      return await this.clients.network(this.subscriptionId).serviceTags.list(location);
    } catch (err) {
      throw new Error(describeAzureError(err).message, { cause: err });
    }
  }
}
