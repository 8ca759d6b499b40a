import { beforeAll, describe, expect, it } from 'vitest';
import { SpecEndpointResolver, type RegistryEndpoints } from '../endpoints/endpoints.js';
import { AddressError, buildAddressSet, type AddressSetInput } from './address-set.js';
import { containingPrefix, cover, parsePrefix } from './cidr.js';
import type { ServiceTagFeed } from './servicetags.js';
import { EmbeddedSnapshotSource } from './sources.js';

let feed: ServiceTagFeed;
const endpointsFor = (regions: string[], loginServer = 'contoso.azurecr.io', mcr = false) =>
  new SpecEndpointResolver().resolve({ loginServer, regions }, { includeMicrosoftContainerRegistry: mcr });
const input = (endpoints: RegistryEndpoints, extra: Partial<AddressSetInput> = {}): AddressSetInput => ({
  feed,
  endpoints,
  sources: ['ServiceTags'],
  families: ['IPv4', 'IPv6'],
  includeMicrosoftContainerRegistry: false,
  ...extra,
});

beforeAll(async () => {
  feed = await new EmbeddedSnapshotSource().load();
});

describe('buildAddressSet', () => {
  it('is the cover of AzureContainerRegistry.R ∪ Storage.R for each region', async () => {
    const set = buildAddressSet(input(await endpointsFor(['eastus', 'westeurope'])));
    expect(set.tags.map((t) => t.name)).toEqual([
      'AzureContainerRegistry.EastUS',
      'Storage.EastUS',
      'AzureContainerRegistry.WestEurope',
      'Storage.WestEurope',
    ]);
    const inputs = set.tags.flatMap((t) => feed.tags.get(t.name)!.addressPrefixes);
    const covered = [...set.ipv4, ...set.ipv6].map(parsePrefix);
    for (const p of inputs) expect(containingPrefix(covered, parsePrefix(p)), p).toBeDefined();
    expect(covered).toEqual(cover(inputs.map(parsePrefix)));
    expect(set.feed.changeNumber).toBe(376);
    expect(set.origins[set.ipv4[0]!]?.length).toBeGreaterThan(0);
  });

  it('names the region and the feed when a region has no tag, instead of falling back to the global tag', async () => {
    const e = await endpointsFor(['atlantis']);
    expect(() => buildAddressSet(input(e))).toThrow(AddressError);
    expect(() => buildAddressSet(input(e))).toThrow(
      'region atlantis has no AzureContainerRegistry service tag in the Service Tags feed changeNumber 376',
    );
  });

  it('finds regions whose feed code differs from the ARM name', async () => {
    const set = buildAddressSet(input(await endpointsFor(['germanywestcentral'])));
    expect(set.tags.map((t) => t.name)).toEqual([
      'AzureContainerRegistry.GermanyWestCentral',
      'Storage.GermanyWestCentral',
    ]);
  });

  it('adds MCR and its Front Door dependency when asked', async () => {
    const set = buildAddressSet(
      input(await endpointsFor(['eastus'], 'contoso.azurecr.io', true), { includeMicrosoftContainerRegistry: true }),
    );
    expect(set.tags.map((t) => t.name)).toContain('MicrosoftContainerRegistry');
    expect(set.tags.map((t) => t.name)).toContain('AzureFrontDoor.FirstParty');
  });

  it('keeps only the families asked for', async () => {
    const set = buildAddressSet(input(await endpointsFor(['eastus']), { families: ['IPv4'] }));
    expect(set.ipv6).toEqual([]);
    expect(set.ipv4.length).toBeGreaterThan(0);
  });

  it('adds DNS answers of every non-wildcard host, and requires them', async () => {
    const e = await endpointsFor(['eastus']);
    const dnsAnswers = [
      { host: 'azurecr.io', addresses: ['20.1.1.1'], ttlSeconds: 60 },
      { host: 'contoso.azurecr.io', addresses: ['10.0.0.7'], ttlSeconds: 60 },
      { host: 'contoso.eastus.data.azurecr.io', addresses: ['10.0.0.8', 'fd00::8'], ttlSeconds: 60 },
    ];
    const set = buildAddressSet(input(e, { sources: ['DNS'], dnsAnswers }));
    expect(set.ipv4).toEqual(['10.0.0.7/32', '10.0.0.8/32', '20.1.1.1/32']);
    expect(set.ipv6).toEqual(['fd00::8/128']);
    expect(set.origins['10.0.0.7/32']).toEqual(['dns:contoso.azurecr.io']);
    expect(set.tags).toEqual([]);
    expect(() => buildAddressSet(input(e, { sources: ['DNS'], dnsAnswers: dnsAnswers.slice(1) }))).toThrow(
      'no DNS answer for azurecr.io',
    );
  });

  it('refuses a feed of another cloud', async () => {
    const e = await endpointsFor(['chinaeast2'], 'contoso.azurecr.cn');
    expect(() => buildAddressSet(input(e))).toThrow(
      'contoso.azurecr.cn is in AzureChinaCloud but the Service Tags feed',
    );
  });
});
