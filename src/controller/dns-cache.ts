import { EventEmitter } from 'node:events';
import type { DnsAnswer, DnsResolver } from '../addresses/dns.js';

export interface DnsCacheOptions {
  /** TTLs are clamped into [floor, ceiling] so a 0-second TTL cannot hammer the resolver nor a day-long one go stale. */
  floorMs: number;
  ceilingMs: number;
  /**
   * Ceiling for negative answers (NXDOMAIN/NODATA: an optional host not in use), default `ceilingMs`. Lower it to
   * notice sooner a host that appears, e.g. a registry enabling dedicated data endpoints.
   */
  negativeCeilingMs?: number;
  now?: () => number;
}

interface Entry {
  answer: DnsAnswer;
  families: string;
  expiresAt: number;
  error?: string;
}

/**
 * DNS answers shared by every resource and refreshed by TTL. Negative answers (NXDOMAIN, NODATA) are answers too,
 * cached by the zone's negative TTL under the same clamp. When the resolver fails the last answer is kept (and the
 * failure remembered, for a Degraded condition); with no last answer the failure is thrown. Emits 'change' (host)
 * when a refreshed answer differs in status or addresses.
 */
export class DnsCache extends EventEmitter<{ change: [string] }> {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<DnsAnswer>>();
  private readonly now: () => number;

  constructor(
    private readonly resolver: Pick<DnsResolver, 'resolve'>,
    private readonly opts: DnsCacheOptions,
  ) {
    super();
    this.now = opts.now ?? Date.now;
  }

  async resolve(host: string, families: readonly (4 | 6)[] = [4, 6]): Promise<DnsAnswer> {
    const key = `${host}|${families.join(',')}`;
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.now()) return entry.answer;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.lookup(key, host, families).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /** The last failure for a host, if its current answer is stale. */
  failure(host: string): string | undefined {
    for (const [key, e] of this.entries) if (key.startsWith(`${host}|`) && e.error) return e.error;
    return undefined;
  }

  /** Re-resolves every expired entry (call on a timer). */
  async refreshExpired(): Promise<void> {
    const now = this.now();
    await Promise.all(
      [...this.entries]
        .filter(([, e]) => e.expiresAt <= now)
        .map(([, e]) =>
          this.resolve(e.answer.host, e.families.split(',').map(Number) as (4 | 6)[]).catch(() => undefined),
        ),
    );
  }

  private async lookup(key: string, host: string, families: readonly (4 | 6)[]): Promise<DnsAnswer> {
    const previous = this.entries.get(key);
    try {
      const answer = await this.resolver.resolve(host, families);
      const ceiling =
        answer.status === 'OK' ? this.opts.ceilingMs : (this.opts.negativeCeilingMs ?? this.opts.ceilingMs);
      const ttlMs = Math.min(ceiling, Math.max(this.opts.floorMs, answer.ttlSeconds * 1000));
      this.entries.set(key, { answer, families: families.join(','), expiresAt: this.now() + ttlMs });
      if (previous && !sameAnswer(previous.answer, answer)) this.emit('change', host);
      return answer;
    } catch (err) {
      if (!previous) throw err;
      // Keep the last answer; try again after the floor.
      this.entries.set(key, { ...previous, expiresAt: this.now() + this.opts.floorMs, error: (err as Error).message });
      return previous.answer;
    }
  }
}

function sameAnswer(a: DnsAnswer, b: DnsAnswer): boolean {
  return a.status === b.status && a.addresses.join() === b.addresses.join();
}
