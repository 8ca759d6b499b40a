import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDnsServer } from '../../test/support/dns-server.js';
import { DnsError, DnsResolver } from './dns.js';

describe('DnsResolver through a real resolver and a local DNS server', () => {
  const server = new TestDnsServer({
    // The public chain of a registry with a private endpoint, answered inside the VNet (split horizon).
    'contoso.azurecr.io': { CNAME: 'contoso.privatelink.azurecr.io', ttl: 600 },
    'contoso.privatelink.azurecr.io': { A: ['10.0.0.7'], ttl: 60 },
    'contoso.eastus.data.azurecr.io': { CNAME: 'contoso.eastus.data.privatelink.azurecr.io' },
    'contoso.eastus.data.privatelink.azurecr.io': { A: ['10.0.0.8'], AAAA: ['fd00::8'], ttl: 120 },
    'v6only.azurecr.io': { AAAA: ['2603:1030::1'] },
  });
  let resolver: DnsResolver;

  beforeAll(async () => {
    resolver = new DnsResolver({ servers: [await server.start()], timeoutMs: 500, tries: 1 });
  });
  afterAll(() => server.stop());

  it('follows CNAMEs to private-endpoint addresses and keeps the smallest TTL', async () => {
    expect(await resolver.resolve('contoso.azurecr.io')).toEqual({
      host: 'contoso.azurecr.io',
      addresses: ['10.0.0.7'],
      ttlSeconds: 60,
    });
  });

  it('answers both families and only the asked ones', async () => {
    expect((await resolver.resolve('contoso.eastus.data.azurecr.io')).addresses).toEqual(['10.0.0.8', 'fd00::8']);
    expect((await resolver.resolve('contoso.eastus.data.azurecr.io', [4])).addresses).toEqual(['10.0.0.8']);
    expect((await resolver.resolve('v6only.azurecr.io')).addresses).toEqual(['2603:1030::1']);
  });

  it('fails clearly on a name that does not exist, a wildcard, or a broken server', async () => {
    await expect(resolver.resolve('nothere.azurecr.io')).rejects.toThrow('DNS has no address for nothere.azurecr.io');
    await expect(resolver.resolve('*.blob.core.windows.net')).rejects.toThrow(DnsError);
    server.failing = true;
    try {
      await expect(resolver.resolve('contoso.azurecr.io')).rejects.toThrow(
        /DNS lookup of contoso.azurecr.io failed: ESERVFAIL/,
      );
    } finally {
      server.failing = false;
    }
  });
});
