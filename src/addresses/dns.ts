import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';

/**
 * What DNS said about a host. `NXDOMAIN`: the name does not exist. `NODATA`: it exists but has no A/AAAA record
 * of the families asked for. Both are answers, not failures: whether they are acceptable depends on the host.
 */
export type DnsStatus = 'OK' | 'NXDOMAIN' | 'NODATA';

export interface DnsAnswer {
  host: string;
  status: DnsStatus;
  /** Addresses of the families asked for; empty unless status is OK. */
  addresses: string[];
  /**
   * How long the answer may be cached, seconds. OK: the smallest record TTL. NXDOMAIN/NODATA: the zone's negative
   * caching TTL (its SOA minimum, RFC 2308), or 0 when no SOA was found (the caller's floor applies).
   */
  ttlSeconds: number;
}

export interface DnsOptions {
  /** Resolver addresses (`10.0.0.10`, `127.0.0.1:5353`, `[::1]:53`); default: the system's. */
  servers?: string[];
  timeoutMs?: number;
  tries?: number;
}

/**
 * DNS gave no usable answer for a host. From DnsResolver: the resolver failed (timeout, SERVFAIL, REFUSED,
 * unreachable), so nothing is known; `code` is Node's (ETIMEOUT, ESERVFAIL, EREFUSED, ECONNREFUSED, …), EWILDCARD
 * for a wildcard host. Its subclass HostResolutionError (address-set.ts) also covers a required host without
 * records. Either way a data problem that may pass, not a spec error.
 */
export class DnsError extends Error {
  constructor(
    readonly host: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DnsError';
  }
}

/** Node's codes for the two negative answers; every other code is a resolver failure. */
const NEGATIVE: Readonly<Record<string, Exclude<DnsStatus, 'OK'>>> = { ENOTFOUND: 'NXDOMAIN', ENODATA: 'NODATA' };

/**
 * Resolves endpoint hosts to addresses through a real resolver (the system's or the ones given). Whatever the
 * resolver answers is used as is, so a private-endpoint (split-horizon) answer inside the VNet gives private
 * addresses. Wildcard hosts are never resolved: they name no single address.
 */
export class DnsResolver {
  private readonly resolver: dns.Resolver;

  constructor(opts: DnsOptions = {}) {
    this.resolver = new dns.Resolver({ timeout: opts.timeoutMs ?? 2000, tries: opts.tries ?? 2 });
    if (opts.servers?.length) this.resolver.setServers(opts.servers);
  }

  /**
   * The addresses of `host` in the families asked for. A family without records while another has some is no
   * failure (IPv4-only hosts are normal). Throws DnsError only when the resolver failed for some family: then the
   * records of the others are not trusted to be the whole answer.
   */
  async resolve(host: string, families: readonly (4 | 6)[] = [4, 6]): Promise<DnsAnswer> {
    if (host.startsWith('*.')) throw new DnsError(host, 'EWILDCARD', `${host} is a wildcard and has no addresses`);
    if (isIP(host)) return { host, status: 'OK', addresses: [host], ttlSeconds: Number.MAX_SAFE_INTEGER };
    const lookups = families.map((f) =>
      (f === 4 ? this.resolver.resolve4(host, { ttl: true }) : this.resolver.resolve6(host, { ttl: true })).then(
        (records) => ({ records, negative: undefined }),
        (err: NodeJS.ErrnoException) => {
          const negative = err.code ? NEGATIVE[err.code] : undefined;
          if (negative) return { records: [], negative };
          throw new DnsError(host, err.code ?? 'EUNKNOWN', `DNS lookup of ${host} failed: ${err.code ?? err.message}`);
        },
      ),
    );
    const results = await Promise.all(lookups);
    const records = results.flatMap((r) => r.records);
    if (records.length > 0) {
      return {
        host,
        status: 'OK',
        addresses: [...new Set(records.map((r) => r.address))].sort(),
        ttlSeconds: Math.min(...records.map((r) => r.ttl)),
      };
    }
    // NODATA for any family proves the name exists.
    const status = results.every((r) => r.negative === 'NXDOMAIN') ? 'NXDOMAIN' : 'NODATA';
    return { host, status, addresses: [], ttlSeconds: await this.negativeTtl(host) };
  }

  /**
   * The negative-caching TTL of the zone holding `host`: the SOA minimum of the closest enclosing zone, found by
   * asking for the SOA of the host and each parent (two labels at least) at once. Node's resolver does not expose
   * the SOA a negative answer carries, hence the extra queries; they happen once per negative answer and TTL.
   */
  private async negativeTtl(host: string): Promise<number> {
    const labels = host.replace(/\.$/, '').split('.');
    const candidates = labels.slice(0, -1).map((_, i) => labels.slice(i).join('.'));
    const answers = await Promise.all(
      candidates.map((name) =>
        this.resolver.resolveSoa(name).then(
          (soa) => soa.minttl,
          () => undefined,
        ),
      ),
    );
    return answers.find((ttl) => ttl !== undefined) ?? 0;
  }
}
