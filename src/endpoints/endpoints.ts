import type { RegistrySpec } from '../api/types.js';
import { CLOUDS, cloudForLoginServer, type CloudProfile } from './clouds.js';
import { embeddedLocations, locationProblem, type LocationCatalog } from './locations.js';

/** Every host a puller may contact for one registry, and the regions they live in. */
export interface RegistryEndpoints {
  cloud: CloudProfile;
  loginServer: string;
  /** ARM location names, lowercase, sorted. */
  regions: string[];
  /** Dedicated data endpoints, one per region: `<name>.<region>.data.azurecr.io`. */
  dataEndpoints: string[];
  /** Storage redirect hosts when dedicated data endpoints are not (or not known to be) in use. */
  storageHosts: string[];
  /** Other hosts: the cloud's registry suffix (the wildcard certificate note) and MCR when asked for. */
  otherHosts: string[];
  /**
   * Hosts that may have no DNS record without anything being wrong, so "no such host" means "not in use": the
   * data endpoints under `dataEndpoints: Auto` (only registries with dedicated data endpoints have them) and the
   * registry suffix host (`azurecr.io`, listed for the certificate note, not a host every resolver answers). Every
   * other host is required: the login server, the data endpoints under `Enabled`, MCR.
   */
  optionalHosts: string[];
  /** How the registry is reached, as ARM reports it (registries named by resource id only). */
  access?: { publicNetworkAccess?: string; privateEndpoints: number };
}

export type HostRequirement = 'Required' | 'Optional';

export function hostRequirement(endpoints: RegistryEndpoints, host: string): HostRequirement {
  return endpoints.optionalHosts.includes(host) ? 'Optional' : 'Required';
}

/** Turns a registry description into its endpoints. ARM discovery implements this too (resourceId). */
export interface EndpointResolver {
  resolve(registry: RegistrySpec, opts: { includeMicrosoftContainerRegistry: boolean }): Promise<RegistryEndpoints>;
}

export interface EndpointProblem {
  /** Path of the spec field at fault, e.g. `spec.registry.regions[0]`. */
  field: string;
  message: string;
}

/** The spec cannot be turned into endpoints; retrying will not help. Names every field at fault. */
export class EndpointError extends Error {
  readonly problems: EndpointProblem[];

  constructor(problems: EndpointProblem | EndpointProblem[]) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.map((p) => `${p.field}: ${p.message}`).join('; '));
    this.name = 'EndpointError';
    this.problems = list;
  }

  /** The first field at fault. */
  get field(): string {
    return this.problems[0]?.field ?? '';
  }
}

export interface SpecEndpointResolverOptions {
  /** The ARM locations accepted per cloud; default: those the embedded Service Tags snapshot names. */
  locations?: LocationCatalog;
}

/**
 * Endpoints from the spec alone (loginServer + regions), by the documented conventions. With dataEndpoints Auto
 * and nothing to discover from, both the dedicated data endpoints and the storage wildcard are allowed, so pulls
 * keep working whichever the registry uses. Regions must be ARM location names: they become host names
 * (`<name>.<region>.data.azurecr.io`), so a feed code such as `germanyn` would name a host that never exists.
 */
export class SpecEndpointResolver implements EndpointResolver {
  private readonly locations: LocationCatalog;

  constructor(opts: SpecEndpointResolverOptions = {}) {
    this.locations = opts.locations ?? embeddedLocations;
  }

  async resolve(
    registry: RegistrySpec,
    opts: { includeMicrosoftContainerRegistry: boolean },
  ): Promise<RegistryEndpoints> {
    if (!registry.loginServer) {
      throw new EndpointError({
        field: 'spec.registry.resourceId',
        message:
          'needs discovery from Azure Resource Manager, which is not configured here; give spec.registry.loginServer and spec.registry.regions instead',
      });
    }
    const loginServer = registry.loginServer.toLowerCase();
    const cloud = registry.cloud ? CLOUDS[registry.cloud] : cloudForLoginServer(loginServer);
    if (!cloud) {
      throw new EndpointError({
        field: 'spec.registry.loginServer',
        message: `${loginServer} is not an Azure Container Registry login server`,
      });
    }
    if (!loginServer.endsWith(`.${cloud.registrySuffix}`)) {
      throw new EndpointError({
        field: 'spec.registry.loginServer',
        message: `${loginServer} is not a login server of ${cloud.name} (*.${cloud.registrySuffix}); check spec.registry.cloud`,
      });
    }
    const name = loginServer.slice(0, -(cloud.registrySuffix.length + 1));
    const given = registry.regions ?? [];
    if (given.length === 0) {
      throw new EndpointError({ field: 'spec.registry.regions', message: 'required with spec.registry.loginServer' });
    }
    const known = await this.locations(cloud.name);
    const problems: EndpointProblem[] = [];
    for (const [i, region] of given.entries()) {
      const problem = await locationProblem(region, known, this.locations);
      if (problem) problems.push({ field: `spec.registry.regions[${i}]`, message: problem });
    }
    if (problems.length > 0) throw new EndpointError(problems);
    const regions = [...new Set(given.map((r) => r.toLowerCase()))].sort();
    return conventionalEndpoints(cloud, loginServer, name, regions, registry.dataEndpoints ?? 'Auto', opts);
  }
}

export function conventionalEndpoints(
  cloud: CloudProfile,
  loginServer: string,
  registryLabel: string,
  regions: string[],
  dataEndpoints: 'Auto' | 'Enabled' | 'Disabled',
  opts: { includeMicrosoftContainerRegistry: boolean },
): RegistryEndpoints {
  const dde =
    dataEndpoints !== 'Disabled' ? regions.map((r) => `${registryLabel}.${r}.data.${cloud.registrySuffix}`) : [];
  const storage = dataEndpoints !== 'Enabled' ? [`*.${cloud.blobSuffix}`] : [];
  const other = [cloud.registrySuffix, ...(opts.includeMicrosoftContainerRegistry ? cloud.mcrHosts : [])];
  const optional = [cloud.registrySuffix, ...(dataEndpoints === 'Auto' ? dde : [])].sort();
  return {
    cloud,
    loginServer,
    regions,
    dataEndpoints: dde,
    storageHosts: storage,
    otherHosts: other,
    optionalHosts: optional,
  };
}

/** Every host, sorted, without duplicates. */
export function allHosts(e: RegistryEndpoints): string[] {
  return [...new Set([e.loginServer, ...e.dataEndpoints, ...e.storageHosts, ...e.otherHosts])].sort();
}

/** A registry ARM says is closed to the public: the public-range allows decide nothing for it. */
export function accessNote(endpoints: RegistryEndpoints): { reason: string; message: string } | undefined {
  const access = endpoints.access;
  if (access?.publicNetworkAccess?.toLowerCase() !== 'disabled') return undefined;
  const via = access.privateEndpoints
    ? `its ${access.privateEndpoints} private endpoint connection(s), addresses in your network that these public-range rules do not govern`
    : 'a private endpoint, and it has no approved private endpoint connection, so pulls fail whatever is allowed here';
  return {
    reason: 'PublicNetworkAccessDisabled',
    message: `registry ${endpoints.loginServer} has public network access Disabled: pulls reach it only through ${via}`,
  };
}
