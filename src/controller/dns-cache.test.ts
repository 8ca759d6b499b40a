import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDnsServer } from '../../test/support/dns-server.js';
import { DnsError, DnsResolver } from '../addresses/dns.js';
import { DnsCache } from './dns-cache.js';

// A real resolver against a local DNS server; only the clock is the test's. The server answers in microseconds;
// the generous resolver timeout only matters on a starved machine.
const server = new TestDnsServer({ 'contoso.azurecr.io': { A: ['10.0.0.1'], ttl: 5 } });
let resolver: DnsResolver;

beforeAll(async () => {
  resolver = new DnsResolver({ servers: [await server.start()], timeoutMs: 5000, tries: 1 });
});
afterAll(() => server.stop());

/** Queries the server received while `fn` ran. */
async function queriesDuring(fn: () => Promise<unknown>): Promise<number> {
  const before = server.queries;
  await fn();
  return server.queries - before;
}

describe('DnsCache', { timeout: 30_000 }, () => {
  it('serves from cache within the clamped TTL and asks again after it', async () => {
    let now = 0;
    const cache = new DnsCache(resolver, { floorMs: 30_000, ceilingMs: 3_600_000, now: () => now });
    const host = 'contoso.azurecr.io';
    expect(await queriesDuring(() => cache.resolve(host))).toBeGreaterThan(0);
    now = 29_000; // TTL 5 s is raised to the 30 s floor
    expect(await queriesDuring(() => cache.resolve(host))).toBe(0);
    now = 31_000;
    expect(await queriesDuring(() => cache.resolve(host))).toBeGreaterThan(0);
    server.zone[host] = { A: ['10.0.0.1'], ttl: 86_400 }; // a day is cut to the 1 h ceiling
    now = 62_000;
    await cache.resolve(host);
    now = 62_000 + 3_599_000;
    expect(await queriesDuring(() => cache.resolve(host))).toBe(0);
    now = 62_000 + 3_600_001;
    expect(await queriesDuring(() => cache.resolve(host))).toBeGreaterThan(0);
    server.zone[host] = { A: ['10.0.0.1'], ttl: 5 };
  });

  it('caches a negative answer (a host not in use) and reports when the host appears', async () => {
    let now = 0;
    const cache = new DnsCache(resolver, { floorMs: 1000, ceilingMs: 60_000, now: () => now });
    const changed: string[] = [];
    cache.on('change', (h) => changed.push(h));
    const host = 'contoso.eastus.data.azurecr.io';
    expect(await cache.resolve(host)).toMatchObject({ status: 'NXDOMAIN', addresses: [] });
    expect(cache.failure(host)).toBeUndefined(); // an answer, not a failure
    now = 900; // no SOA from this server: the negative TTL is 0, raised to the floor
    expect(await queriesDuring(() => cache.resolve(host))).toBe(0);
    server.zone[host] = { A: ['10.0.0.8'] }; // the registry enables dedicated data endpoints
    now = 1100;
    expect(await cache.resolve(host)).toMatchObject({ status: 'OK', addresses: ['10.0.0.8'] });
    expect(changed).toEqual([host]);
    delete server.zone[host];
    now = 400_000; // and disables them: the negative answer replaces the positive one, and is a change too
    expect(await cache.resolve(host)).toMatchObject({ status: 'NXDOMAIN' });
    expect(changed).toEqual([host, host]);
  });

  it('re-checks negative answers at least every negativeCeilingMs', async () => {
    let now = 0;
    const cache = new DnsCache(resolver, {
      floorMs: 30_000,
      ceilingMs: 60_000,
      negativeCeilingMs: 5_000,
      now: () => now,
    });
    await cache.resolve('azurecr.io');
    now = 4_000;
    expect(await queriesDuring(() => cache.resolve('azurecr.io'))).toBe(0);
    now = 5_001;
    expect(await queriesDuring(() => cache.resolve('azurecr.io'))).toBeGreaterThan(0);
    // Positive answers keep the ordinary clamp.
    await cache.resolve('contoso.azurecr.io');
    now = 5_001 + 29_000;
    expect(await queriesDuring(() => cache.resolve('contoso.azurecr.io'))).toBe(0);
  });

  it('keeps the last answer when the resolver fails, remembers why, and throws with no answer to keep', async () => {
    let now = 0;
    const cache = new DnsCache(resolver, { floorMs: 1000, ceilingMs: 1000, now: () => now });
    await cache.resolve('contoso.azurecr.io');
    server.failing = true;
    try {
      now = 2000;
      expect((await cache.resolve('contoso.azurecr.io')).addresses).toEqual(['10.0.0.1']);
      expect(cache.failure('contoso.azurecr.io')).toContain('ESERVFAIL');
      const err = await cache.resolve('never-seen.azurecr.io').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DnsError);
      expect(err).toMatchObject({ code: 'ESERVFAIL' });
    } finally {
      server.failing = false;
    }
    now = 4000;
    expect((await cache.resolve('contoso.azurecr.io')).addresses).toEqual(['10.0.0.1']);
    expect(cache.failure('contoso.azurecr.io')).toBeUndefined();
  });
});
