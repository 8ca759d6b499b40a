import type { RegistrySpec } from '../api/types.js';
import { CLOUDS, cloudForLoginServer, type CloudProfile } from './clouds.js';

/** Every host a puller may contact for one registry, and the regions they live in. */
export interface RegistryEndpoints {
  cloud: CloudProfile;
  loginServer: string;
  regions: string[];
  /** Dedicated data endpoints, one per region: `<name>.<region>.data.azurecr.io`. */
  dataEndpoints: string[];
  /** Storage redirect hosts when dedicated data endpoints are not (or not known to be) in use. */
  storageHosts: string[];
  /** Other hosts: the cloud's registry suffix (the wildcard certificate note) and MCR when asked for. */
  otherHosts: string[];
}

/** Turns a registry description into its endpoints. ARM discovery implements this too (resourceId). */
export interface EndpointResolver {
  resolve(registry: RegistrySpec, opts: { includeMicrosoftContainerRegistry: boolean }): Promise<RegistryEndpoints>;
}

export class EndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

/**
 * Endpoints from the spec alone (loginServer + regions), by the documented conventions. With dataEndpoints Auto
 * and nothing to discover from, both the dedicated data endpoints and the storage wildcard are allowed, so pulls
 * keep working whichever the registry uses.
 */
export class SpecEndpointResolver implements EndpointResolver {
  async resolve(
    registry: RegistrySpec,
    opts: { includeMicrosoftContainerRegistry: boolean },
  ): Promise<RegistryEndpoints> {
    if (!registry.loginServer) {
      throw new EndpointError(
        'spec.registry.resourceId needs discovery from Azure Resource Manager, which is not configured here; give spec.registry.loginServer and spec.registry.regions instead',
      );
    }
    const loginServer = registry.loginServer.toLowerCase();
    const cloud = registry.cloud ? CLOUDS[registry.cloud] : cloudForLoginServer(loginServer);
    if (!cloud) throw new EndpointError(`${loginServer} is not an Azure Container Registry login server`);
    const name = loginServer.slice(0, -(cloud.registrySuffix.length + 1));
    const regions = [...new Set((registry.regions ?? []).map((r) => r.toLowerCase()))].sort();
    if (regions.length === 0)
      throw new EndpointError('spec.registry.regions is required with spec.registry.loginServer');
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
  return { cloud, loginServer, regions, dataEndpoints: dde, storageHosts: storage, otherHosts: other };
}

/** Every host, sorted, without duplicates. */
export function allHosts(e: RegistryEndpoints): string[] {
  return [...new Set([e.loginServer, ...e.dataEndpoints, ...e.storageHosts, ...e.otherHosts])].sort();
}
