/**
 * Registry endpoints from Azure Resource Manager (`spec.registry.resourceId`): the login server, regions and data
 * endpoints as ARM reports them, never derived from the registry's name (DNL registries are `name-<hash>.azurecr.io`).
 *
 * No SDK here: ARM is reached through a RegistryReader (src/azure/readers.ts in the operator), so this module stays
 * pure enough for unit tests and cheap to import.
 */
import type { RegistrySpec } from '../api/types.js';
import { PATTERNS } from '../api/rules.js';
import { DiscoveryError } from '../azure/errors.js';
import type { CloudProfile } from './clouds.js';
import { EndpointError, type EndpointResolver, type RegistryEndpoints } from './endpoints.js';

/** The parts of a registry's ARM id. */
export interface RegistryResourceId {
  /** The id as given; ARM ids compare case-insensitively. */
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/** What ARM says about a registry: `registries.get` plus `replications.list`, as plain data. */
export interface RegistryFacts {
  id: string;
  name: string;
  /** The home region (ARM location name). */
  location: string;
  /** SKU tier (Basic, Standard, Premium); geo-replication and data endpoints are Premium only. */
  sku?: string;
  loginServer?: string;
  dataEndpointEnabled: boolean;
  /** "host names that will serve data when dataEndpointEnabled is true", one per region. */
  dataEndpointHostNames: string[];
  publicNetworkAccess?: string;
  /** Private endpoint connections whose link is Approved. */
  privateEndpoints?: number;
  networkRuleSet?: { defaultAction?: string; ipRules: string[] };
  /** Every replication, the home region's included. */
  replications: { name: string; location: string; provisioningState?: string; regionEndpointEnabled?: boolean }[];
}

/** Reads one registry from ARM. Throws EndpointError when it does not exist, DiscoveryError when ARM cannot answer. */
export interface RegistryReader {
  read(id: RegistryResourceId): Promise<RegistryFacts>;
}

const RESOURCE_ID = new RegExp(PATTERNS.registryResourceId);

/** Splits a registry's ARM id; the same pattern as the CRD's validation. */
export function parseRegistryResourceId(id: string): RegistryResourceId {
  if (!RESOURCE_ID.test(id.toLowerCase())) {
    throw new EndpointError({
      field: 'spec.registry.resourceId',
      message: `${id} is not the ARM id of a registry (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name>)`,
    });
  }
  const parts = id.split('/');
  return { id, subscriptionId: parts[2]!, resourceGroup: parts[4]!, name: parts[8]! };
}

/**
 * The endpoints of a registry from ARM's facts. Data endpoints are ARM's `dataEndpointHostNames` when
 * `dataEndpointEnabled`; otherwise layers come from storage, `*.blob.<suffix>` (the account names are ACR's and
 * change). While ARM reports data endpoints enabled but lists none yet (just switched on), the storage wildcard
 * stays, so there is always a place to pull from. Removed hosts are retired with grace by the reconciler
 * (retainHosts), which is what keeps blob links handed out before a switch working.
 */
export function endpointsFromFacts(
  cloud: CloudProfile,
  facts: RegistryFacts,
  dataEndpoints: 'Auto' | 'Enabled' | 'Disabled',
  opts: { includeMicrosoftContainerRegistry: boolean },
): RegistryEndpoints {
  const loginServer = facts.loginServer?.toLowerCase();
  if (!loginServer) {
    throw new DiscoveryError(
      'DiscoveryFailed',
      `Azure Resource Manager reported registry ${facts.id} without a login server`,
    );
  }
  if (!loginServer.endsWith(`.${cloud.registrySuffix}`)) {
    throw new EndpointError({
      field: 'spec.registry.resourceId',
      message: `Azure Resource Manager reports login server ${loginServer}, which is not a login server of ${cloud.name} (*.${cloud.registrySuffix})`,
    });
  }
  const where = `registry ${facts.name} (${loginServer})`;
  if (dataEndpoints === 'Enabled' && !facts.dataEndpointEnabled) {
    throw new EndpointError({
      field: 'spec.registry.dataEndpoints',
      message: `is Enabled, but Azure Resource Manager reports dedicated data endpoints disabled for ${where}; enable them on the registry or use Auto`,
    });
  }
  if (dataEndpoints === 'Disabled' && facts.dataEndpointEnabled) {
    throw new EndpointError({
      field: 'spec.registry.dataEndpoints',
      message: `is Disabled, but ${where} serves layers from dedicated data endpoints (${facts.dataEndpointHostNames.join(', ') || 'being set up'}), which would stay blocked; use Auto`,
    });
  }
  const regions = [...new Set([facts.location, ...facts.replications.map((r) => r.location)].map(lower))]
    .filter(Boolean)
    .sort();
  const dde = facts.dataEndpointEnabled ? [...new Set(facts.dataEndpointHostNames.map(lower))].sort() : [];
  return {
    cloud,
    loginServer,
    regions,
    dataEndpoints: dde,
    storageHosts: dde.length === 0 ? [`*.${cloud.blobSuffix}`] : [],
    otherHosts: [cloud.registrySuffix, ...(opts.includeMicrosoftContainerRegistry ? cloud.mcrHosts : [])],
    // ARM's data endpoints exist: a missing DNS record for one is a problem, not "not in use".
    optionalHosts: [cloud.registrySuffix],
    access: {
      ...(facts.publicNetworkAccess ? { publicNetworkAccess: facts.publicNetworkAccess } : {}),
      privateEndpoints: facts.privateEndpoints ?? 0,
    },
  };
}

const lower = (s: string) => s.toLowerCase();

export interface ArmEndpointResolverOptions {
  reader: RegistryReader;
  /** The cloud whose ARM the reader talks to. */
  cloud: CloudProfile;
  /** Resolves registries given by loginServer (and regions): the spec resolver. */
  fallback: EndpointResolver;
  /** A registry is read at most once per interval, however many resources name it. */
  refreshIntervalMs: number;
  /** How long a failed read is shared before ARM is asked again; default the interval, at most 30 s. */
  failureTtlMs?: number;
  now?: () => number;
}

interface CacheEntry {
  at: number;
  facts?: RegistryFacts;
  error?: Error;
  pending?: Promise<RegistryFacts>;
}

/**
 * ARM discovery behind the EndpointResolver seam. One read per registry per refresh interval, shared by every
 * resource naming it (concurrent resolves share one request); a failure is shared for a short while too, so an ARM
 * outage is not multiplied by the number of resources.
 */
export class ArmEndpointResolver implements EndpointResolver {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly failureTtlMs: number;
  private readonly now: () => number;
  /** ARM reads started, per registry id (lowercase): for tests and the benchmark. */
  readonly reads = new Map<string, number>();

  constructor(private readonly opts: ArmEndpointResolverOptions) {
    this.failureTtlMs = opts.failureTtlMs ?? Math.min(opts.refreshIntervalMs, 30_000);
    this.now = opts.now ?? Date.now;
  }

  async resolve(
    registry: RegistrySpec,
    opts: { includeMicrosoftContainerRegistry: boolean },
  ): Promise<RegistryEndpoints> {
    if (!registry.resourceId) return this.opts.fallback.resolve(registry, opts);
    const id = parseRegistryResourceId(registry.resourceId);
    const cloud = this.opts.cloud;
    if (registry.cloud && registry.cloud !== cloud.name) {
      throw new EndpointError({
        field: 'spec.registry.cloud',
        message: `is ${registry.cloud}, but the operator reads Azure Resource Manager of ${cloud.name} (--azure-cloud); give loginServer and regions for a registry in another cloud`,
      });
    }
    const facts = await this.facts(id);
    return endpointsFromFacts(cloud, facts, registry.dataEndpoints ?? 'Auto', opts);
  }

  /** The registry's facts: cached, or read once for everyone asking now. */
  facts(id: RegistryResourceId): Promise<RegistryFacts> {
    const key = id.id.toLowerCase();
    const now = this.now();
    const entry = this.cache.get(key);
    if (entry?.pending) return entry.pending;
    if (entry?.facts && now - entry.at < this.opts.refreshIntervalMs) return Promise.resolve(entry.facts);
    if (entry?.error !== undefined && now - entry.at < this.failureTtlMs) return Promise.reject(entry.error);
    this.prune(now);
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    const pending = this.opts.reader.read(id).then(
      (facts) => {
        this.cache.set(key, { at: this.now(), facts });
        return facts;
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        this.cache.set(key, { at: this.now(), error });
        throw error;
      },
    );
    this.cache.set(key, { at: entry?.at ?? now, pending });
    return pending;
  }

  /** Registries nobody asked about for two intervals are forgotten (a spec changed to another registry). */
  private prune(now: number): void {
    const horizon = 2 * Math.max(this.opts.refreshIntervalMs, this.failureTtlMs);
    for (const [key, entry] of this.cache) if (!entry.pending && now - entry.at > horizon) this.cache.delete(key);
  }
}
