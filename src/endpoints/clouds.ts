/** What differs between Azure clouds for registry traffic. Sources: Azure docs on sovereign-cloud endpoints. */
export interface CloudProfile {
  name: CloudName;
  /** Login-server suffix: `<registry>.azurecr.io`. */
  registrySuffix: string;
  /** Blob storage suffix, for the non-dedicated-data-endpoint redirect wildcard `*.blob.<suffix>`. */
  blobSuffix: string;
  /** Microsoft Container Registry hosts. */
  mcrHosts: string[];
  /**
   * Service tags holding MCR's addresses in this cloud's feed, all required when MCR is included. Public: MCR plus
   * the Front Door it is served through ("has a dependency on AzureFrontDoor.FirstParty"). The China and US
   * Government feeds (ServiceTags_China_20260622, ServiceTags_AzureGovernment_20260622) have
   * MicrosoftContainerRegistry but no AzureFrontDoor.FirstParty; their AzureFrontDoor.Frontend/Backend tags are
   * customers' Front Door profiles, not MCR, so they are not used.
   */
  mcrServiceTags: string[];
  /** `cloud` as the Service Tags feed spells it. */
  serviceTagsCloud: string;
  /** File stem of the embedded snapshot (data/servicetags/<stem>.json). */
  snapshot: string;
  /** Azure Resource Manager of this cloud, without a trailing slash. */
  armEndpoint: string;
  /** Microsoft Entra authority host that issues tokens for this cloud's ARM. */
  authorityHost: string;
  /**
   * The token scope for ARM. Passed to every SDK client explicitly: the modular clients default to the public
   * cloud's scope whatever their endpoint, which a sovereign cloud's Entra refuses.
   */
  armScope: string;
}

export type CloudName = 'AzurePublicCloud' | 'AzureChinaCloud' | 'AzureUSGovernment';

export const CLOUDS: Readonly<Record<CloudName, CloudProfile>> = {
  AzurePublicCloud: {
    name: 'AzurePublicCloud',
    registrySuffix: 'azurecr.io',
    blobSuffix: 'blob.core.windows.net',
    mcrHosts: ['mcr.microsoft.com', '*.data.mcr.microsoft.com'],
    mcrServiceTags: ['MicrosoftContainerRegistry', 'AzureFrontDoor.FirstParty'],
    serviceTagsCloud: 'Public',
    snapshot: 'public',
    armEndpoint: 'https://management.azure.com',
    authorityHost: 'https://login.microsoftonline.com',
    armScope: 'https://management.azure.com/.default',
  },
  AzureChinaCloud: {
    name: 'AzureChinaCloud',
    registrySuffix: 'azurecr.cn',
    blobSuffix: 'blob.core.chinacloudapi.cn',
    mcrHosts: ['mcr.azure.cn', '*.data.mcr.azure.cn'],
    mcrServiceTags: ['MicrosoftContainerRegistry'],
    serviceTagsCloud: 'China',
    snapshot: 'china',
    armEndpoint: 'https://management.chinacloudapi.cn',
    authorityHost: 'https://login.chinacloudapi.cn',
    armScope: 'https://management.chinacloudapi.cn/.default',
  },
  AzureUSGovernment: {
    name: 'AzureUSGovernment',
    registrySuffix: 'azurecr.us',
    blobSuffix: 'blob.core.usgovcloudapi.net',
    mcrHosts: ['mcr.microsoft.com', '*.data.mcr.microsoft.com'],
    mcrServiceTags: ['MicrosoftContainerRegistry'],
    serviceTagsCloud: 'AzureGovernment',
    snapshot: 'usgov',
    armEndpoint: 'https://management.usgovcloudapi.net',
    authorityHost: 'https://login.microsoftonline.us',
    armScope: 'https://management.usgovcloudapi.net/.default',
  },
};

export function cloudForLoginServer(loginServer: string): CloudProfile | undefined {
  const host = loginServer.toLowerCase();
  return Object.values(CLOUDS).find((c) => host.endsWith(`.${c.registrySuffix}`));
}
