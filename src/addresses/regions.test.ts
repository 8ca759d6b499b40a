import { describe, expect, it } from 'vitest';
import { requiredUpstreamFile } from '../../test/fixtures/upstream.js';
import { CLOUDS, type CloudName } from '../endpoints/clouds.js';
import { conventionalEndpoints } from '../endpoints/endpoints.js';
import { buildAddressSet } from './address-set.js';
import { REGISTRY_TAG_FAMILIES, feedLocations, regionalTag, tagLocation } from './regions.js';
import { parseServiceTags, type ServiceTagFeed } from './servicetags.js';
import { EmbeddedSnapshotSource, FileSource } from './sources.js';

const SHARED: Record<CloudName, string> = {
  AzurePublicCloud: 'servicetags/ServiceTags_Public_20251103.json',
  AzureChinaCloud: 'servicetags/ServiceTags_China_20260622.json',
  AzureUSGovernment: 'servicetags/ServiceTags_AzureGovernment_20260622.json',
};
const sharedFiles = Object.entries(SHARED).map(
  ([cloud, rel]) => [cloud as CloudName, requiredUpstreamFile(rel)] as const,
);
const missing = sharedFiles.filter(([, f]) => !f).map(([c]) => c);
if (missing.length) console.warn(`regional tag tests on the shared feeds skipped for ${missing.join(', ')}`);

/** The shared weekly files where present, and always the embedded snapshots made from them. */
async function feeds(): Promise<[string, CloudName, ServiceTagFeed][]> {
  const out: [string, CloudName, ServiceTagFeed][] = [];
  for (const [cloud, file] of sharedFiles) if (file) out.push([file, cloud, await new FileSource(file).load()]);
  for (const cloud of Object.keys(CLOUDS) as CloudName[]) {
    out.push([`embedded ${cloud}`, cloud, await new EmbeddedSnapshotSource(cloud).load()]);
  }
  return out;
}

const LONG = 60_000; // reads the 4 MB public feed; must not depend on an idle machine

const synthetic = parseServiceTags(
  JSON.stringify({
    changeNumber: 7,
    cloud: 'Public',
    values: [
      ['AzureContainerRegistry.GermanyNorth', 'germanyn'],
      ['Storage.GermanyNorth', 'germanyn'],
      ['AzureContainerRegistry.EastUS2', 'eastus2'],
      ['Storage.EastUS2', 'eastus2'],
      ['Storage.EastUS2Stage', 'eastus2'],
      ['StorageSyncService.EastUS2', 'eastus2'],
      ['AzureContainerRegistry', ''],
    ].map(([name, region]) => ({ name, id: name, properties: { region, addressPrefixes: ['20.1.0.0/24'] } })),
  }),
  'synthetic',
);

describe('regionalTag', () => {
  it('chooses by name, case-insensitively, never by properties.region', () => {
    expect(regionalTag(synthetic, 'Storage', 'eastus2')?.name).toBe('Storage.EastUS2');
    expect(regionalTag(synthetic, 'Storage', 'EastUS2')?.name).toBe('Storage.EastUS2');
    expect(regionalTag(synthetic, 'AzureContainerRegistry', 'germanynorth')?.name).toBe(
      'AzureContainerRegistry.GermanyNorth',
    );
    // The feed code is not a location: it names no tag.
    expect(regionalTag(synthetic, 'AzureContainerRegistry', 'germanyn')).toBeUndefined();
  });

  it('reads the location off a registry tag name only', () => {
    expect(tagLocation('Storage.GermanyWestCentral')).toBe('germanywestcentral');
    expect(tagLocation('AzureContainerRegistry')).toBeUndefined();
    expect(tagLocation('StorageSyncService.EastUS2')).toBeUndefined();
  });

  it('lists locations and the feed codes that differ, but a code that is itself a location is no alias', () => {
    const { locations, codes } = feedLocations(synthetic);
    expect([...locations].sort()).toEqual(['eastus2', 'eastus2stage', 'germanynorth']);
    expect(Object.fromEntries(codes)).toEqual({ germanyn: 'germanynorth' });
  });
});

describe('regional tags in every shared feed: exactly the two tags the location names', () => {
  it(
    'for every location any ACR or Storage tag names, chooses exactly <Family>.<Location>',
    async () => {
      for (const [label, cloud, feed] of await feeds()) {
        const { locations } = feedLocations(feed);
        expect(locations.size, label).toBeGreaterThan(cloud === 'AzurePublicCloud' ? 60 : 4);
        for (const location of locations) {
          const named = [...feed.tags.values()].filter((t) => tagLocation(t.name) === location).map((t) => t.name);
          const chosen = REGISTRY_TAG_FAMILIES.map((f) => regionalTag(feed, f, location)?.name).filter(Boolean);
          expect(chosen.sort(), `${label} ${location}`).toEqual(named.sort());
          if (chosen.length < 2) continue; // a Storage-only staging location (eastus2stage): no registry there
          const endpoints = conventionalEndpoints(CLOUDS[cloud], 'x', 'x', [location], 'Auto', {
            includeMicrosoftContainerRegistry: false,
          });
          const set = buildAddressSet({
            feed,
            endpoints,
            sources: ['ServiceTags'],
            families: ['IPv4', 'IPv6'],
            includeMicrosoftContainerRegistry: false,
          });
          expect(
            set.tags.map((t) => t.name.toLowerCase()),
            `${label} ${location}`,
          ).toEqual([`azurecontainerregistry.${location}`, `storage.${location}`]);
        }
      }
    },
    LONG,
  );

  it.skipIf(!sharedFiles[0]![1])(
    'eastus2 and northcentralus leave out the staging ranges their region field also labels',
    async () => {
      const feed = await new FileSource(sharedFiles[0]![1]!).load();
      for (const [location, staging] of [
        ['eastus2', 'Storage.EastUS2Stage'],
        ['northcentralus', 'Storage.NorthCentralUSStage'],
      ] as const) {
        // The trap: the staging tag carries the production region's code.
        expect(feed.tags.get(staging)?.region).toBe(location);
        const set = buildAddressSet({
          feed,
          endpoints: conventionalEndpoints(CLOUDS.AzurePublicCloud, 'x', 'x', [location], 'Auto', {
            includeMicrosoftContainerRegistry: false,
          }),
          sources: ['ServiceTags'],
          families: ['IPv4', 'IPv6'],
          includeMicrosoftContainerRegistry: false,
        });
        expect(set.tags.map((t) => t.name)).not.toContain(staging);
        expect(set.tags).toHaveLength(2);
      }
      // And the ARM names whose feed code differs are found by name.
      expect(regionalTag(feed, 'Storage', 'germanynorth')?.region).toBe('germanyn');
      expect(feedLocations(feed).codes.get('centralfrance')).toBe('francecentral');
    },
    LONG,
  );
});
