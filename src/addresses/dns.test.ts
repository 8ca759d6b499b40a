import dgram from 'node:dgram';
import dnsPacket, { type Answer } from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDnsServer } from '../../test/support/dns-server.js';
import { DnsError, DnsResolver } from './dns.js';

// A local server answers in microseconds; the generous resolver timeout only matters on a starved machine.
describe('DnsResolver through a real resolver and a local DNS server', { timeout: 30_000 }, () => {
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
    resolver = new DnsResolver({ servers: [await server.start()], timeoutMs: 5000, tries: 1 });
  });
  afterAll(() => server.stop());

  it('follows CNAMEs to private-endpoint addresses and keeps the smallest TTL', async () => {
    expect(await resolver.resolve('contoso.azurecr.io')).toEqual({
      host: 'contoso.azurecr.io',
      status: 'OK',
      addresses: ['10.0.0.7'],
      ttlSeconds: 60,
    });
  });

  it('answers both families and only the asked ones; one family missing is no failure', async () => {
    expect((await resolver.resolve('contoso.eastus.data.azurecr.io')).addresses).toEqual(['10.0.0.8', 'fd00::8']);
    expect((await resolver.resolve('contoso.eastus.data.azurecr.io', [4])).addresses).toEqual(['10.0.0.8']);
    expect(await resolver.resolve('v6only.azurecr.io')).toMatchObject({ status: 'OK', addresses: ['2603:1030::1'] });
    expect(await resolver.resolve('contoso.azurecr.io', [4, 6])).toMatchObject({ status: 'OK' });
  });

  it('refuses a wildcard and fails with the code when the server fails', async () => {
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

/** Per-name behaviour of the zone server below. */
interface Name {
  A?: string[];
  AAAA?: string[];
  rcode?: 'SERVFAIL' | 'REFUSED';
  /** SERVFAIL for AAAA questions only, as some broken resolvers do. */
  servfailAAAA?: boolean;
  /** Never answer: the client times out. */
  silent?: boolean;
}

const RCODES = { SERVFAIL: 2, REFUSED: 5 } as const;
const NXDOMAIN = 3;

/**
 * An authoritative server for one zone on loopback UDP, with what the shared test server lacks: an SOA (at the
 * apex and in the authority section of negative answers, as RFC 2308 wants), REFUSED, and names it never answers.
 */
class ZoneServer {
  private readonly socket = dgram.createSocket('udp4');

  constructor(
    private readonly apex: string,
    private readonly negativeTtl: number,
    private readonly names: Record<string, Name>,
  ) {}

  async start(): Promise<string> {
    this.socket.on('message', (msg, rinfo) => {
      const query = dnsPacket.decode(msg);
      const question = query.questions?.[0];
      if (!question) return;
      const reply = (rcode: number, answers: Answer[] = [], authorities: Answer[] = []) =>
        this.socket.send(
          dnsPacket.encode({
            id: query.id,
            type: 'response',
            flags: dnsPacket.AUTHORITATIVE_ANSWER | rcode,
            questions: query.questions,
            answers,
            authorities,
          }),
          rinfo.port,
          rinfo.address,
        );
      const name = question.name.toLowerCase();
      const soa: Answer = {
        type: 'SOA',
        name: this.apex,
        ttl: 3600,
        data: {
          mname: `ns1.${this.apex}`,
          rname: `hostmaster.${this.apex}`,
          serial: 1,
          refresh: 3600,
          retry: 600,
          expire: 86400,
          minimum: this.negativeTtl,
        },
      };
      if (name === this.apex && question.type === 'SOA') return reply(0, [soa]);
      const record = this.names[name];
      if (record?.silent) return;
      if (record?.rcode) return reply(RCODES[record.rcode]);
      if (record?.servfailAAAA && question.type === 'AAAA') return reply(RCODES.SERVFAIL);
      if (!record && name !== this.apex) return reply(NXDOMAIN, [], [soa]);
      const type = question.type === 'AAAA' ? 'AAAA' : 'A';
      const data = question.type === 'A' || question.type === 'AAAA' ? (record?.[type] ?? []) : [];
      reply(
        0,
        data.map((d) => ({ type, name, ttl: 300, data: d })),
        data.length ? [] : [soa],
      );
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return `127.0.0.1:${this.socket.address().port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

describe('DnsResolver: negative answers are answers, resolver failures are errors', { timeout: 30_000 }, () => {
  const zone = new ZoneServer('azurecr.io', 77, {
    'contoso.azurecr.io': { A: ['20.1.1.1'] },
    'v4only.eastus.data.azurecr.io': { A: ['20.1.1.2'] },
    'servfail.azurecr.io': { rcode: 'SERVFAIL' },
    'refused.azurecr.io': { rcode: 'REFUSED' },
    'silent.azurecr.io': { silent: true },
    'halfbroken.azurecr.io': { A: ['20.1.1.4'], servfailAAAA: true },
  });
  let resolver: DnsResolver;
  let impatient: DnsResolver; // for the name never answered: the only wait that must be short

  beforeAll(async () => {
    const address = await zone.start();
    resolver = new DnsResolver({ servers: [address], timeoutMs: 5000, tries: 1 });
    impatient = new DnsResolver({ servers: [address], timeoutMs: 300, tries: 1 });
  });
  afterAll(() => zone.stop());

  it('NXDOMAIN: the name does not exist, cached for the SOA minimum of the closest zone', async () => {
    expect(await resolver.resolve('contoso.eastus.data.azurecr.io')).toEqual({
      host: 'contoso.eastus.data.azurecr.io',
      status: 'NXDOMAIN',
      addresses: [],
      ttlSeconds: 77,
    });
  });

  it('NODATA: the name exists without addresses (the registry suffix host), with the negative TTL', async () => {
    expect(await resolver.resolve('azurecr.io')).toEqual({
      host: 'azurecr.io',
      status: 'NODATA',
      addresses: [],
      ttlSeconds: 77,
    });
    // Only the family asked for counts: an IPv4-only host asked for IPv6 alone has no data.
    expect(await resolver.resolve('v4only.eastus.data.azurecr.io', [6])).toMatchObject({ status: 'NODATA' });
    expect(await resolver.resolve('v4only.eastus.data.azurecr.io', [4, 6])).toMatchObject({
      status: 'OK',
      addresses: ['20.1.1.2'],
      ttlSeconds: 300,
    });
  });

  it('a negative answer without any SOA has TTL 0, so the caller’s floor applies', async () => {
    const bare = new TestDnsServer({}); // NXDOMAIN for everything, no authority section, no SOA
    try {
      const r = new DnsResolver({ servers: [await bare.start()], timeoutMs: 5000, tries: 1 });
      expect(await r.resolve('nothere.azurecr.io')).toMatchObject({ status: 'NXDOMAIN', ttlSeconds: 0 });
    } finally {
      await bare.stop();
    }
  });

  it.each([
    ['SERVFAIL', 'servfail.azurecr.io', 'ESERVFAIL'],
    ['REFUSED', 'refused.azurecr.io', 'EREFUSED'],
    ['a timeout', 'silent.azurecr.io', 'ETIMEOUT'],
  ])('%s is a resolver failure, thrown with its code', async (_what, host, code) => {
    const err = await (code === 'ETIMEOUT' ? impatient : resolver).resolve(host).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsError);
    expect(err).toMatchObject({ host, code });
    expect((err as Error).message).toBe(`DNS lookup of ${host} failed: ${code}`);
  });

  it('a failure in one family is a failure even when the other family answers', async () => {
    // The A records alone might not be the whole answer: the caller keeps its last answer instead.
    await expect(resolver.resolve('halfbroken.azurecr.io', [4, 6])).rejects.toMatchObject({ code: 'ESERVFAIL' });
    expect(await resolver.resolve('halfbroken.azurecr.io', [4])).toMatchObject({ status: 'OK' });
  });
});
