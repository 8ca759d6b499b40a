import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDnsServer } from '../../test/support/dns-server.js';
import { requiredUpstreamFile } from '../../test/fixtures/upstream.js';
import { CLOUDS, type CloudName } from '../endpoints/clouds.js';
import { SpecEndpointResolver, type RegistryEndpoints } from '../endpoints/endpoints.js';
import {
  AddressError,
  HostResolutionError,
  buildAddressSet,
  hostsNotInUse,
  resolveEndpointHosts,
  type AddressSetInput,
} from './address-set.js';
import { containingPrefix, cover, parsePrefix } from './cidr.js';
import { DnsError, DnsResolver } from './dns.js';
import type { ServiceTagFeed } from './servicetags.js';
import { EmbeddedSnapshotSource, FileSource } from './sources.js';

let feed: ServiceTagFeed;
const LONG = 60_000; // feeds are read from disk and parsed; must pass on a loaded machine
const endpointsFor = (
  regions: string[],
  loginServer = 'contoso.azurecr.io',
  mcr = false,
  dataEndpoints: 'Auto' | 'Enabled' | 'Disabled' = 'Auto',
) =>
  new SpecEndpointResolver().resolve(
    { loginServer, regions, dataEndpoints },
    { includeMicrosoftContainerRegistry: mcr },
  );
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
}, LONG);

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
    // eastus2stage is a location (Storage.EastUS2Stage names it) where ACR has no tag.
    const e = await endpointsFor(['eastus2stage']);
    expect(() => buildAddressSet(input(e))).toThrow(AddressError);
    expect(() => buildAddressSet(input(e))).toThrow(
      'region eastus2stage has no AzureContainerRegistry service tag in the Service Tags feed changeNumber 376',
    );
  });

  it('finds regions whose feed code differs from the ARM name, by the tag name', async () => {
    const set = buildAddressSet(input(await endpointsFor(['germanywestcentral'])));
    expect(set.tags.map((t) => t.name)).toEqual([
      'AzureContainerRegistry.GermanyWestCentral',
      'Storage.GermanyWestCentral',
    ]);
  });

  it('keeps only the families asked for', async () => {
    const set = buildAddressSet(input(await endpointsFor(['eastus']), { families: ['IPv4'] }));
    expect(set.ipv6).toEqual([]);
    expect(set.ipv4.length).toBeGreaterThan(0);
  });

  it('adds DNS answers of every non-wildcard host, requires one per host, and records optional hosts not in use', async () => {
    const e = await endpointsFor(['eastus']);
    const dnsAnswers = [
      { host: 'azurecr.io', status: 'NODATA' as const, addresses: [], ttlSeconds: 60 },
      { host: 'contoso.azurecr.io', status: 'OK' as const, addresses: ['10.0.0.7'], ttlSeconds: 60 },
      {
        host: 'contoso.eastus.data.azurecr.io',
        status: 'OK' as const,
        addresses: ['10.0.0.8', 'fd00::8'],
        ttlSeconds: 60,
      },
    ];
    const set = buildAddressSet(input(e, { sources: ['DNS'], dnsAnswers }));
    expect(set.ipv4).toEqual(['10.0.0.7/32', '10.0.0.8/32']);
    expect(set.ipv6).toEqual(['fd00::8/128']);
    expect(set.origins['10.0.0.7/32']).toEqual(['dns:contoso.azurecr.io']);
    expect(set.tags).toEqual([]);
    expect(set.dns.map((d) => `${d.host} ${d.state} ${d.status}`)).toEqual([
      'azurecr.io NotInUse NODATA',
      'contoso.azurecr.io Resolved OK',
      'contoso.eastus.data.azurecr.io Resolved OK',
    ]);
    expect(hostsNotInUse(set)).toEqual(['azurecr.io']);
    expect(() => buildAddressSet(input(e, { sources: ['DNS'], dnsAnswers: dnsAnswers.slice(1) }))).toThrow(
      'no DNS answer for azurecr.io',
    );
    // A negative answer for a required host is refused here too, whoever resolved it.
    const gone = dnsAnswers.map((a) =>
      a.host === 'contoso.azurecr.io' ? { ...a, status: 'NXDOMAIN' as const, addresses: [] } : a,
    );
    expect(() => buildAddressSet(input(e, { sources: ['DNS'], dnsAnswers: gone }))).toThrow(
      'contoso.azurecr.io is required but does not exist (NXDOMAIN)',
    );
  });

  it('refuses a feed of another cloud', async () => {
    const e = await endpointsFor(['chinaeast2'], 'contoso.azurecr.cn');
    expect(() => buildAddressSet(input(e))).toThrow(
      'contoso.azurecr.cn is in AzureChinaCloud but the Service Tags feed',
    );
  });
});

describe('Microsoft Container Registry in every cloud, against the real feeds', () => {
  const shared: Record<CloudName, [string, string]> = {
    AzurePublicCloud: ['servicetags/ServiceTags_Public_20251103.json', 'eastus'],
    AzureChinaCloud: ['servicetags/ServiceTags_China_20260622.json', 'chinaeast2'],
    AzureUSGovernment: ['servicetags/ServiceTags_AzureGovernment_20260622.json', 'usgovvirginia'],
  };
  const suffix: Record<CloudName, string> = { AzurePublicCloud: 'io', AzureChinaCloud: 'cn', AzureUSGovernment: 'us' };

  it.each(Object.keys(shared) as CloudName[])(
    '%s: uses the tags its feed has for MCR and reports them',
    async (cloud) => {
      const [file, region] = shared[cloud];
      const path = requiredUpstreamFile(file);
      const feeds = [await new EmbeddedSnapshotSource(cloud).load()];
      if (path) feeds.push(await new FileSource(path).load());
      const endpoints = await endpointsFor([region], `contoso.azurecr.${suffix[cloud]}`, true);
      for (const f of feeds) {
        const set = buildAddressSet({ ...input(endpoints), feed: f, includeMicrosoftContainerRegistry: true });
        const names = set.tags.map((t) => t.name);
        expect(names.slice(2), f.source).toEqual(CLOUDS[cloud].mcrServiceTags);
        expect(names.slice(2), f.source).toContain('MicrosoftContainerRegistry');
        for (const t of set.tags) expect(t.prefixes, t.name).toBe(f.tags.get(t.name)!.addressPrefixes.length);
        // The sovereign feeds have no AzureFrontDoor.FirstParty; asking for it made MCR fail there.
        expect(f.tags.has('AzureFrontDoor.FirstParty'), f.source).toBe(cloud === 'AzurePublicCloud');
      }
    },
    LONG,
  );

  it('names the missing tag and the cloud when a feed lacks one', async () => {
    const endpoints = await endpointsFor(['eastus'], 'contoso.azurecr.io', true);
    const tags = new Map(feed.tags);
    tags.delete('AzureFrontDoor.FirstParty');
    expect(() =>
      buildAddressSet({ ...input(endpoints), feed: { ...feed, tags }, includeMicrosoftContainerRegistry: true }),
    ).toThrow(/has no AzureFrontDoor.FirstParty tag, needed for Microsoft Container Registry in AzurePublicCloud/);
  });
});

// A local server answers in microseconds; the generous resolver timeout only matters on a starved machine.
describe('resolveEndpointHosts against a local DNS server', { timeout: 30_000 }, () => {
  // An ordinary registry: no dedicated data endpoints, so only the login server has records; azurecr.io exists
  // without addresses (NODATA), the data endpoint does not exist at all (NXDOMAIN).
  const server = new TestDnsServer({
    'contoso.azurecr.io': { A: ['20.1.1.7'] },
    'azurecr.io': {},
    'v6less.azurecr.io': { A: ['20.1.1.9'] },
  });
  const blackHole = dgram.createSocket('udp4'); // receives queries, never answers
  let dns: DnsResolver;
  let silent: DnsResolver;

  beforeAll(async () => {
    dns = new DnsResolver({ servers: [await server.start()], timeoutMs: 5000, tries: 1 });
    await new Promise<void>((resolve) => blackHole.bind(0, '127.0.0.1', resolve));
    silent = new DnsResolver({ servers: [`127.0.0.1:${blackHole.address().port}`], timeoutMs: 200, tries: 1 });
  });
  afterAll(async () => {
    await server.stop();
    await new Promise<void>((resolve) => blackHole.close(() => resolve()));
  });

  it('defaults (Auto, ServiceTags + DNS) work for a registry without data endpoints; absent hosts are not in use', async () => {
    const endpoints = await endpointsFor(['eastus']);
    const answers = await resolveEndpointHosts(dns, endpoints, ['IPv4', 'IPv6']);
    expect(answers.map((a) => `${a.host} ${a.status}`)).toEqual([
      'azurecr.io NODATA',
      'contoso.azurecr.io OK',
      'contoso.eastus.data.azurecr.io NXDOMAIN',
    ]);
    const set = buildAddressSet(input(endpoints, { sources: ['ServiceTags', 'DNS'], dnsAnswers: answers }));
    expect(hostsNotInUse(set)).toEqual(['azurecr.io', 'contoso.eastus.data.azurecr.io']);
    expect(set.origins['20.1.1.7/32']).toEqual(['dns:contoso.azurecr.io']);
    expect(set.tags.map((t) => t.name)).toEqual(['AzureContainerRegistry.EastUS', 'Storage.EastUS']);
  });

  it('a host with A but no AAAA is resolved, not missing', async () => {
    const endpoints = await endpointsFor(['eastus'], 'v6less.azurecr.io');
    const answers = await resolveEndpointHosts(dns, endpoints, ['IPv4', 'IPv6']);
    expect(answers.find((a) => a.host === 'v6less.azurecr.io')).toMatchObject({
      status: 'OK',
      addresses: ['20.1.1.9'],
    });
  });

  it.each([
    ['the login server does not exist', 'nothere.azurecr.io', 'Auto', 'nothere.azurecr.io', 'NXDOMAIN'],
    [
      'a data endpoint is missing under Enabled',
      'contoso.azurecr.io',
      'Enabled',
      'contoso.eastus.data.azurecr.io',
      'NXDOMAIN',
    ],
  ] as const)('fails loudly when %s', async (_what, loginServer, mode, host, code) => {
    const endpoints = await endpointsFor(['eastus'], loginServer, false, mode);
    const err = await resolveEndpointHosts(dns, endpoints, ['IPv4', 'IPv6']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostResolutionError);
    expect(err).toBeInstanceOf(DnsError); // a data problem that may pass (DNSFailed), not a spec error (Stalled)
    expect(err).not.toBeInstanceOf(AddressError);
    expect(err).toMatchObject({ host, kind: 'RequiredHostMissing', code });
    expect((err as Error).message).toContain(`${host} is required but does not exist (NXDOMAIN)`);
  });

  it('a required host without an address of the only family asked for is missing (NODATA)', async () => {
    const endpoints = await endpointsFor(['eastus'], 'v6less.azurecr.io');
    await expect(resolveEndpointHosts(dns, endpoints, ['IPv6'])).rejects.toMatchObject({
      host: 'v6less.azurecr.io',
      kind: 'RequiredHostMissing',
      code: 'NODATA',
    });
  });

  it('SERVFAIL is a resolver failure, even for an optional host', async () => {
    const endpoints = await endpointsFor(['eastus']);
    server.failing = true;
    try {
      const err = await resolveEndpointHosts(dns, endpoints, ['IPv4']).catch((e: unknown) => e);
      expect(err).toMatchObject({ host: 'azurecr.io', kind: 'ResolverFailure', code: 'ESERVFAIL' });
      expect((err as Error).message).toBe(
        'the DNS resolver failed for azurecr.io: DNS lookup of azurecr.io failed: ESERVFAIL',
      );
    } finally {
      server.failing = false;
    }
  });

  it('a timeout is a resolver failure', async () => {
    const endpoints = await endpointsFor(['eastus']);
    await expect(resolveEndpointHosts(silent, endpoints, ['IPv4'])).rejects.toMatchObject({
      kind: 'ResolverFailure',
      code: 'ETIMEOUT',
    });
  });
});
