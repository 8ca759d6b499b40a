import { describe, expect, it } from 'vitest';
import { requiredUpstreamFile } from '../../test/fixtures/upstream.js';
import { feedLocations } from '../addresses/regions.js';
import { EmbeddedSnapshotSource, FileSource } from '../addresses/sources.js';
import { CLOUDS, type CloudName } from './clouds.js';
import { EndpointError, SpecEndpointResolver, allHosts, hostRequirement } from './endpoints.js';
import { embeddedLocations, nearestLocation, type LocationCatalog } from './locations.js';

const resolver = new SpecEndpointResolver();
const noMcr = { includeMicrosoftContainerRegistry: false };
const LONG = 60_000; // the first resolve reads an embedded snapshot; one test reads the 4 MB public feed

describe('SpecEndpointResolver', { timeout: LONG }, () => {
  it('Auto allows both dedicated data endpoints and the storage wildcard, per region', async () => {
    const e = await resolver.resolve({ loginServer: 'Contoso.azurecr.io', regions: ['westeurope', 'eastus'] }, noMcr);
    expect(e.loginServer).toBe('contoso.azurecr.io');
    expect(e.regions).toEqual(['eastus', 'westeurope']);
    expect(e.dataEndpoints).toEqual(['contoso.eastus.data.azurecr.io', 'contoso.westeurope.data.azurecr.io']);
    expect(e.storageHosts).toEqual(['*.blob.core.windows.net']);
    expect(allHosts(e)).toEqual([
      '*.blob.core.windows.net',
      'azurecr.io',
      'contoso.azurecr.io',
      'contoso.eastus.data.azurecr.io',
      'contoso.westeurope.data.azurecr.io',
    ]);
  });

  it('Enabled drops the storage wildcard; Disabled drops the data endpoints', async () => {
    const on = await resolver.resolve(
      { loginServer: 'contoso.azurecr.io', regions: ['eastus'], dataEndpoints: 'Enabled' },
      noMcr,
    );
    expect(on.storageHosts).toEqual([]);
    const off = await resolver.resolve(
      { loginServer: 'contoso.azurecr.io', regions: ['eastus'], dataEndpoints: 'Disabled' },
      noMcr,
    );
    expect(off.dataEndpoints).toEqual([]);
    expect(off.storageHosts).toEqual(['*.blob.core.windows.net']);
  });

  it('marks hosts that may not exist as optional: data endpoints only under Auto, the suffix host always', async () => {
    const registry = { loginServer: 'contoso.azurecr.io', regions: ['eastus'] };
    const auto = await resolver.resolve(registry, { includeMicrosoftContainerRegistry: true });
    expect(auto.optionalHosts).toEqual(['azurecr.io', 'contoso.eastus.data.azurecr.io']);
    expect(hostRequirement(auto, 'contoso.azurecr.io')).toBe('Required');
    expect(hostRequirement(auto, 'mcr.microsoft.com')).toBe('Required');
    expect(hostRequirement(auto, 'contoso.eastus.data.azurecr.io')).toBe('Optional');
    const enabled = await resolver.resolve({ ...registry, dataEndpoints: 'Enabled' }, noMcr);
    expect(enabled.optionalHosts).toEqual(['azurecr.io']);
    expect(hostRequirement(enabled, 'contoso.eastus.data.azurecr.io')).toBe('Required');
  });

  it('uses the sovereign cloud suffixes and MCR hosts', async () => {
    const cn = await resolver.resolve(
      { loginServer: 'contoso.azurecr.cn', regions: ['chinaeast2'] },
      { includeMicrosoftContainerRegistry: true },
    );
    expect(cn.cloud.name).toBe('AzureChinaCloud');
    expect(allHosts(cn)).toEqual([
      '*.blob.core.chinacloudapi.cn',
      '*.data.mcr.azure.cn',
      'azurecr.cn',
      'contoso.azurecr.cn',
      'contoso.chinaeast2.data.azurecr.cn',
      'mcr.azure.cn',
    ]);
    const gov = await resolver.resolve({ loginServer: 'contoso.azurecr.us', regions: ['usgovvirginia'] }, noMcr);
    expect(gov.storageHosts).toEqual(['*.blob.core.usgovcloudapi.net']);
  });

  it('keeps the DNL hash of a login server in its data endpoints', async () => {
    const e = await resolver.resolve(
      { loginServer: 'contoso-e7ggejfuhzhgedc8.azurecr.io', regions: ['eastus'] },
      noMcr,
    );
    expect(e.dataEndpoints).toEqual(['contoso-e7ggejfuhzhgedc8.eastus.data.azurecr.io']);
  });

  it('says that a resource id needs ARM discovery', async () => {
    await expect(resolver.resolve({ resourceId: '/subscriptions/x' }, noMcr)).rejects.toThrow(/Azure Resource Manager/);
  });

  it('refuses a login server of another cloud than spec.registry.cloud', async () => {
    const err = await resolver
      .resolve({ loginServer: 'contoso.azurecr.io', regions: ['chinaeast2'], cloud: 'AzureChinaCloud' }, noMcr)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointError);
    expect(err).toMatchObject({ field: 'spec.registry.loginServer' });
  });
});

describe('regions must be ARM location names', { timeout: LONG }, () => {
  const problem = async (regions: string[], loginServer = 'contoso.azurecr.io') => {
    const err = await resolver.resolve({ loginServer, regions }, noMcr).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointError);
    return err as EndpointError;
  };

  it('a Service Tags region code is refused with the location it stands for, and no host is made from it', async () => {
    const err = await problem(['eastus', 'germanyn']);
    expect(err.message).toBe(
      'spec.registry.regions[1]: germanyn is a Service Tags region code, not an Azure location; did you mean germanynorth?',
    );
    expect(err.field).toBe('spec.registry.regions[1]');
  });

  it.each([
    [
      'West Europe',
      /^spec\.registry\.regions\[0\]: West Europe is a display name, not an Azure location; did you mean westeurope\?$/,
    ],
    [
      'westeurop',
      /: westeurop is not an Azure location of AzurePublicCloud \(\d+ known from embedded snapshot ServiceTags_Public_\d+\.json\); did you mean westeurope\?$/,
    ],
    ['chinaeast2', /: chinaeast2 is a location of AzureChinaCloud, but the registry is in AzurePublicCloud;/],
    ['atlantis', /: atlantis is not an Azure location of AzurePublicCloud \(.*\); see `az account list-locations`$/],
  ])('%s is refused with a hint', async (region, message) => {
    expect((await problem([region])).message).toMatch(message);
  });

  it('names every region at fault at once', async () => {
    const err = await problem(['germanyn', 'eastus', 'norwaye']);
    expect(err.problems.map((p) => p.field)).toEqual(['spec.registry.regions[0]', 'spec.registry.regions[2]']);
    expect(err.problems[1]!.message).toContain('did you mean norwayeast?');
  });

  it('accepts the locations each cloud names and no feed code of any cloud', async () => {
    const accepted = await resolver.resolve({ loginServer: 'contoso.azurecr.us', regions: ['usgovarizona'] }, noMcr);
    expect(accepted.dataEndpoints).toEqual(['contoso.usgovarizona.data.azurecr.us']);
    for (const cloud of Object.keys(CLOUDS) as CloudName[]) {
      const known = await embeddedLocations(cloud);
      for (const code of known.codes.keys()) expect(known.locations.has(code), code).toBe(false);
    }
  });

  it(
    'the accepted locations are exactly those the shared weekly feeds name (the snapshot is made from them)',
    async () => {
      const files: Record<CloudName, string> = {
        AzurePublicCloud: 'servicetags/ServiceTags_Public_20251103.json',
        AzureChinaCloud: 'servicetags/ServiceTags_China_20260622.json',
        AzureUSGovernment: 'servicetags/ServiceTags_AzureGovernment_20260622.json',
      };
      for (const cloud of Object.keys(files) as CloudName[]) {
        const file = requiredUpstreamFile(files[cloud]);
        if (!file) continue;
        const fromFeed = feedLocations(await new FileSource(file).load());
        const known = await embeddedLocations(cloud);
        expect([...known.locations].sort(), cloud).toEqual([...fromFeed.locations].sort());
        expect(Object.fromEntries(known.codes), cloud).toEqual(Object.fromEntries(fromFeed.codes));
      }
    },
    LONG,
  );

  it('takes another catalog, e.g. a live feed newer than the snapshot', async () => {
    const snapshot = await new EmbeddedSnapshotSource('AzurePublicCloud').load();
    const withNewRegion: LocationCatalog = async (cloud) => {
      const known = await embeddedLocations(cloud);
      return { ...known, locations: new Set([...known.locations, 'mars1']), source: `${snapshot.source} + live` };
    };
    const e = await new SpecEndpointResolver({ locations: withNewRegion }).resolve(
      { loginServer: 'contoso.azurecr.io', regions: ['mars1'] },
      noMcr,
    );
    expect(e.dataEndpoints).toEqual(['contoso.mars1.data.azurecr.io']);
  });

  it('suggests a near miss only within a few edits', () => {
    const known = ['eastus', 'eastus2', 'westeurope', 'northeurope'];
    expect(nearestLocation('eastsu', known)).toBe('eastus');
    expect(nearestLocation('northeurop', known)).toBe('northeurope');
    expect(nearestLocation('japan', known)).toBeUndefined();
  });
});
