import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';

export interface DnsAnswer {
  host: string;
  addresses: string[];
  /** Smallest TTL among the answers, seconds. */
  ttlSeconds: number;
}

export interface DnsOptions {
  /** Resolver addresses (`10.0.0.10`, `127.0.0.1:5353`, `[::1]:53`); default: the system's. */
  servers?: string[];
  timeoutMs?: number;
  tries?: number;
}

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

const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND']);

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

  async resolve(host: string, families: readonly (4 | 6)[] = [4, 6]): Promise<DnsAnswer> {
    if (host.startsWith('*.')) throw new DnsError(host, 'EWILDCARD', `${host} is a wildcard and has no addresses`);
    if (isIP(host)) return { host, addresses: [host], ttlSeconds: Number.MAX_SAFE_INTEGER };
    const lookups = families.map((f) =>
      (f === 4 ? this.resolver.resolve4(host, { ttl: true }) : this.resolver.resolve6(host, { ttl: true })).catch(
        (err: NodeJS.ErrnoException) => {
          if (err.code && NO_RECORDS.has(err.code)) return [];
          throw new DnsError(host, err.code ?? 'EUNKNOWN', `DNS lookup of ${host} failed: ${err.code ?? err.message}`);
        },
      ),
    );
    const records = (await Promise.all(lookups)).flat();
    if (records.length === 0) throw new DnsError(host, 'ENOTFOUND', `DNS has no address for ${host}`);
    return {
      host,
      addresses: [...new Set(records.map((r) => r.address))].sort(),
      ttlSeconds: Math.min(...records.map((r) => r.ttl)),
    };
  }
}
