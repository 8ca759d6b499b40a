import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { KubeClient } from '../kube/client.js';
import { isConflict, isNotFound } from '../kube/errors.js';
import type { KubeObject } from '../kube/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { microTime } from './events.js';

/** controller-runtime's defaults (pkg/manager/internal.go): lease 15 s, renew deadline 10 s, retry period 2 s. */
export interface LeaderTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const LEADER_TIMINGS: LeaderTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/**
 * A follower polls every retry period plus up to this fraction of it. client-go's acquire loop jitters by 1.2 (up to
 * 4.4 s between polls); 0.1 still keeps followers from polling in step, and a released lease is taken within 2.2 s.
 */
const FOLLOWER_JITTER = 0.1;

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
}

export type Lease = KubeObject & { spec?: LeaseSpec };

export interface LeaderElectionConfig {
  /** Namespace and name of the coordination.k8s.io/v1 Lease. */
  namespace: string;
  name: string;
  /** Unique per process: `<hostname>_<uuid>`, as controller-runtime. */
  identity: string;
  timings?: Partial<LeaderTimings>;
}

export interface LeaderCallbacks {
  /** This process holds the lease: start the workers. Called at most once. */
  onStartedLeading(): void;
  /**
   * Leadership is gone (renew deadline passed, or another holder): stop writing at once. Called at most once, never
   * after a release. controller-runtime exits the process here, without a graceful shutdown.
   */
  onStoppedLeading(reason: string): void;
}

export interface LeaderElectorDeps {
  client: KubeClient;
  logger: Logger;
  metrics?: Metrics;
  config: LeaderElectionConfig;
  callbacks: LeaderCallbacks;
}

/** `<hostname>_<uuid>`: a restarted process is a new holder, so it never mistakes an old lease for its own. */
export function leaderIdentity(hostname = os.hostname(), random = randomUUID()): string {
  return `${hostname}_${random}`;
}

/** Six fractional digits, no offset: what the API server accepts for a MicroTime. */
export const MICROTIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function validateTimings(t: LeaderTimings): void {
  // client-go's own checks: the leader gives up before anyone may take over, and retries more than once before that.
  if (!(t.leaseDurationMs > t.renewDeadlineMs))
    throw new Error('leader election: the lease duration must exceed the renew deadline');
  if (!(t.renewDeadlineMs > t.retryPeriodMs * (1 + FOLLOWER_JITTER)))
    throw new Error('leader election: the renew deadline must exceed the retry period');
  if (t.leaseDurationMs % 1000 !== 0 || t.leaseDurationMs < 1000)
    throw new Error('leader election: the lease duration is a whole number of seconds');
}

/**
 * Whether someone else holds the lease. Expiry is judged by the local monotonic clock from when this process
 * first saw the current record, never by the holder's renewTime, so clock skew between nodes does not matter
 * (client-go does the same).
 */
export function heldByOther(
  spec: LeaseSpec | undefined,
  identity: string,
  observedAtMs: number,
  nowMs: number,
): string | undefined {
  const holder = spec?.holderIdentity;
  if (!holder || holder === identity) return undefined;
  const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
  return observedAtMs + durationMs > nowMs ? holder : undefined;
}

/**
 * The spec this process writes to acquire or renew: acquireTime and leaseTransitions are kept while it already
 * holds the lease; taking it from anyone else (a released lease included) counts one transition.
 */
export function acquiredSpec(
  previous: LeaseSpec | undefined,
  identity: string,
  now: Date,
  leaseDurationSeconds: number,
): LeaseSpec {
  const stamp = microTime(now);
  const renewing = previous?.holderIdentity === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: renewing ? (previous.acquireTime ?? stamp) : stamp,
    renewTime: stamp,
    leaseTransitions: previous
      ? (previous.leaseTransitions ?? 0) + (renewing ? 0 : 1)
      : 0 /* a new Lease: no transition yet */,
  };
}

/** client-go's ReleaseOnCancel: no holder and a 1 s lease, so a follower takes it on its next poll. */
export function releasedSpec(previous: LeaseSpec | undefined, now: Date): LeaseSpec {
  const stamp = microTime(now);
  return {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: stamp,
    renewTime: stamp,
    leaseTransitions: previous?.leaseTransitions ?? 0,
  };
}

type Attempt = { ok: true } | { ok: false; heldBy?: string };

/**
 * Lease-based leader election following client-go: create the Lease if absent, otherwise take it once it is free
 * or expired, always with the resourceVersion read (an update that lost a race gets 409 and is retried later).
 * The leader renews every retry period; if no renewal succeeds within the renew deadline (a timer, so a hung
 * request cannot hold it up), or another holder is seen, it calls onStoppedLeading at once.
 */
export class LeaderElector {
  private readonly timings: LeaderTimings;
  private state: 'following' | 'leading' | 'stopped' = 'following';
  /** The Lease as last read or written by this process: its resourceVersion guards the next write. */
  private lease: Lease | undefined;
  private observed: { raw: string; atMs: number; holder: string } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private watchdogAt = 0;
  private inflight: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private stopping: Promise<void> | undefined;

  constructor(private readonly deps: LeaderElectorDeps) {
    this.timings = { ...LEADER_TIMINGS, ...deps.config.timings };
    validateTimings(this.timings);
  }

  get identity(): string {
    return this.deps.config.identity;
  }

  get isLeader(): boolean {
    return this.state === 'leading';
  }

  /** The holder last seen ('' when released); undefined until the Lease was first read or written. */
  get observedHolder(): string | undefined {
    return this.observed?.holder;
  }

  start(): void {
    const { config } = this.deps;
    this.setStatus(false);
    this.deps.logger.info(
      { identity: config.identity, lease: `${config.namespace}/${config.name}` },
      'leader election: waiting to acquire the lease',
    );
    this.schedule(0);
  }

  /**
   * Stops electing. With `release`, a lease this process holds is handed over (call it after the last write has
   * finished); otherwise it simply expires. Never calls onStoppedLeading.
   */
  async stop(opts: { release: boolean }): Promise<void> {
    this.stopping ??= this.halt(opts.release);
    return this.stopping;
  }

  private async halt(release: boolean): Promise<void> {
    const following = this.state === 'following';
    const lost = this.state === 'stopped';
    this.state = 'stopped';
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    // A follower's poll is cut short; a leader's renewal is let finish, so the resourceVersion below is current.
    if (following) this.abort.abort();
    await this.inflight;
    this.abort.abort();
    this.setStatus(false);
    if (release && !lost && this.lease?.spec?.holderIdentity === this.identity) await this.release();
  }

  private schedule(delayMs: number): void {
    if (this.state === 'stopped') return;
    this.timer = setTimeout(() => {
      this.inflight = this.tick();
    }, delayMs);
  }

  private async tick(): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.timings;
    if (this.state === 'leading') {
      const attempt = await this.tryAcquireOrRenew(Math.max(1, this.watchdogAt - performance.now()));
      if (this.state !== 'leading') return;
      if (attempt.ok) this.armWatchdog();
      else if (attempt.heldBy) return this.lose(`the lease is now held by ${attempt.heldBy}`);
      // A failed renewal is retried; the watchdog ends leadership at the renew deadline.
      return this.schedule(retryPeriodMs);
    }
    const attempt = await this.tryAcquireOrRenew(renewDeadlineMs);
    if (this.state !== 'following') return;
    if (!attempt.ok) return this.schedule(retryPeriodMs * (1 + Math.random() * FOLLOWER_JITTER));
    this.state = 'leading';
    this.armWatchdog();
    this.setStatus(true);
    this.deps.logger.info(
      { identity: this.identity, leaseTransitions: this.lease?.spec?.leaseTransitions },
      'leader election: acquired the lease; this process leads',
    );
    this.schedule(retryPeriodMs);
    this.deps.callbacks.onStartedLeading();
  }

  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    const { renewDeadlineMs } = this.timings;
    this.watchdogAt = performance.now() + renewDeadlineMs;
    this.watchdog = setTimeout(
      () => this.lose(`no renewal succeeded within the renew deadline (${renewDeadlineMs} ms)`),
      renewDeadlineMs,
    );
  }

  private lose(reason: string): void {
    if (this.state !== 'leading') return;
    this.state = 'stopped';
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    this.abort.abort();
    this.setStatus(false);
    this.deps.logger.error({ identity: this.identity, reason }, 'leader election: lost the lease');
    this.deps.callbacks.onStoppedLeading(reason);
  }

  private async tryAcquireOrRenew(timeoutMs: number): Promise<Attempt> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(Math.ceil(timeoutMs))]);
    const seconds = Math.round(this.timings.leaseDurationMs / 1000);
    const spec = (previous: LeaseSpec | undefined) => acquiredSpec(previous, this.identity, new Date(), seconds);
    // Fast path, as client-go: the leader updates the copy it wrote last; a 409 means it changed, so read it.
    if (this.state === 'leading' && this.lease) {
      try {
        this.observe(await this.put(this.lease, spec(this.lease.spec), signal));
        return { ok: true };
      } catch (err) {
        if (!isConflict(err)) return this.failed(err);
      }
    }
    let current: Lease | undefined;
    try {
      current = await this.deps.client.request<Lease>('GET', this.path(), { signal });
    } catch (err) {
      if (!isNotFound(err)) return this.failed(err);
    }
    try {
      if (!current) {
        this.observe(await this.create(spec(undefined), signal));
        return { ok: true };
      }
      const observedAtMs = this.observe(current);
      const heldBy = heldByOther(current.spec, this.identity, observedAtMs, performance.now());
      if (heldBy) return { ok: false, heldBy };
      this.observe(await this.put(current, spec(current.spec), signal));
      return { ok: true };
    } catch (err) {
      return this.failed(err);
    }
  }

  private failed(err: unknown): Attempt {
    // A 409 is a lost race (create or update), not a fault; anything else is logged and retried next period.
    if (!isConflict(err) && this.state !== 'stopped')
      this.deps.logger.warn({ err, identity: this.identity }, 'leader election: lease request failed');
    return { ok: false };
  }

  /** Keeps the Lease and returns when its current record was first seen: expiry counts from then. */
  private observe(lease: Lease): number {
    this.lease = lease;
    const raw = JSON.stringify(lease.spec ?? {});
    if (this.observed?.raw === raw) return this.observed.atMs;
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== this.observed?.holder && holder !== this.identity)
      this.deps.logger.info({ identity: this.identity, holder }, 'leader election: the lease has a new holder');
    this.observed = { raw, atMs: performance.now(), holder };
    return this.observed.atMs;
  }

  /** client-go's ReleaseOnCancel. A lease someone else holds by now is left alone. */
  private async release(): Promise<void> {
    const signal = AbortSignal.timeout(this.timings.renewDeadlineMs);
    let current = this.lease;
    for (let attempt = 0; attempt < 2 && current?.spec?.holderIdentity === this.identity; attempt++) {
      try {
        this.lease = await this.put(current, releasedSpec(current.spec, new Date()), signal);
        this.deps.logger.info({ identity: this.identity }, 'leader election: released the lease');
        return;
      } catch (err) {
        if (!isConflict(err)) {
          this.deps.logger.warn({ err }, 'leader election: could not release the lease; it will expire');
          return;
        }
        current = await this.deps.client.request<Lease>('GET', this.path(), { signal }).catch(() => undefined);
      }
    }
  }

  private put(current: Lease, spec: LeaseSpec, signal: AbortSignal): Promise<Lease> {
    // An update with the resourceVersion read: the API server answers 409 if anyone wrote in between. The whole
    // object goes back (as client-go's LeaseLock does), so labels or fields others set are kept.
    const body: Lease = {
      ...current,
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      spec: { ...current.spec, ...spec },
    };
    return this.deps.client.request<Lease>('PUT', this.path(), { body, signal });
  }

  private create(spec: LeaseSpec, signal: AbortSignal): Promise<Lease> {
    const { namespace, name } = this.deps.config;
    const body: Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec };
    return this.deps.client.request<Lease>('POST', this.path(false), { body, signal });
  }

  /** Leases are a built-in kind: the path is fixed, no discovery round trip needed. */
  private path(withName = true): string {
    const { namespace, name } = this.deps.config;
    const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
    return withName ? `${base}/${encodeURIComponent(name)}` : base;
  }

  private setStatus(leading: boolean): void {
    this.deps.metrics?.leaderStatus.set({ name: this.deps.config.name }, leading ? 1 : 0);
  }
}
