import { describe, expect, it } from 'vitest';
import { DnsCache } from './dns-cache.js';

function fakeResolver() {
  const state = { addresses: ['10.0.0.1'], ttl: 5, fail: false, calls: 0 };
  return {
    state,
    resolve: async (host: string) => {
      state.calls++;
      if (state.fail) throw new Error('ESERVFAIL');
      return { host, addresses: [...state.addresses], ttlSeconds: state.ttl };
    },
  };
}

describe('DnsCache', () => {
  it('serves from cache within the clamped TTL and asks again after it', async () => {
    let now = 0;
    const r = fakeResolver();
    const cache = new DnsCache(r, { floorMs: 30_000, ceilingMs: 3_600_000, now: () => now });
    await cache.resolve('h');
    now = 29_000; // TTL 5 s is raised to the 30 s floor
    await cache.resolve('h');
    expect(r.state.calls).toBe(1);
    now = 31_000;
    await cache.resolve('h');
    expect(r.state.calls).toBe(2);
    r.state.ttl = 86_400; // a day is cut to the 1 h ceiling
    now = 62_000;
    await cache.resolve('h');
    now = 62_000 + 3_600_001;
    await cache.resolve('h');
    expect(r.state.calls).toBe(4);
  });

  it('keeps the last answer when the resolver fails, remembers why, and reports changes', async () => {
    let now = 0;
    const r = fakeResolver();
    const cache = new DnsCache(r, { floorMs: 1000, ceilingMs: 1000, now: () => now });
    const changed: string[] = [];
    cache.on('change', (h) => changed.push(h));
    await cache.resolve('h');
    r.state.fail = true;
    now = 2000;
    expect((await cache.resolve('h')).addresses).toEqual(['10.0.0.1']);
    expect(cache.failure('h')).toContain('ESERVFAIL');
    r.state.fail = false;
    r.state.addresses = ['10.0.0.2'];
    now = 4000;
    expect((await cache.resolve('h')).addresses).toEqual(['10.0.0.2']);
    expect(cache.failure('h')).toBeUndefined();
    expect(changed).toEqual(['h']);
    r.state.fail = true;
    await expect(cache.resolve('never-seen')).rejects.toThrow('ESERVFAIL');
  });
});
