import { backoffDelay } from '../kube/backoff.js';

/** The longest delay Node's timers honour. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface WorkQueueOptions {
  /** Per-item exponential backoff for addRateLimited: base and cap (client-go: 5 ms to 1000 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Overall token bucket for addRateLimited (client-go: 10 per second, burst 100). */
  qps?: number;
  burst?: number;
  now?: () => number;
  onMetrics?: (event: 'add' | 'retry' | 'get' | 'done', key: string, depth: number) => void;
}

/**
 * A work queue with client-go semantics: a key is queued at most once however often it is added (dirty set); a key
 * being processed is never handed out twice, and if it was added meanwhile it is queued again when done; delayed
 * adds; per-key exponential backoff combined with an overall token bucket for retries.
 */
export class WorkQueue<K extends string = string> {
  private readonly queue: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly failures = new Map<K, number>();
  private readonly timers = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private waiters: ((key: K | undefined) => void)[] = [];
  private shuttingDown = false;
  private tokens: number;
  private lastRefill: number;
  private readonly now: () => number;

  constructor(private readonly opts: WorkQueueOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.tokens = opts.burst ?? 100;
    this.lastRefill = this.now();
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.opts.onMetrics?.('add', key, this.queue.length);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else this.queue.push(key);
  }

  /** Adds after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    // Node fires a timer longer than 2^31-1 ms at once: clamp, the caller re-checks when it fires.
    delayMs = Math.min(delayMs, MAX_TIMER_MS);
    const at = this.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Adds after this key's backoff (doubling per failure) or the overall rate limit, whichever is longer. */
  addRateLimited(key: K): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.opts.onMetrics?.('retry', key, this.queue.length);
    const itemDelay = backoffDelay(n, {
      baseMs: this.opts.baseDelayMs ?? 5,
      maxMs: this.opts.maxDelayMs ?? 1_000_000,
      jitter: 0,
    });
    this.addAfter(key, Math.max(itemDelay, this.takeToken()));
  }

  /** Forgets a key's failures after a success. */
  forget(key: K): void {
    this.failures.delete(key);
  }

  retries(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue shuts down. */
  get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.opts.onMetrics?.('get', key, this.queue.length);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: K): void {
    this.processing.delete(key);
    this.opts.onMetrics?.('done', key, this.queue.length);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  /** Whether a worker holds this key now (got, not yet done). */
  isProcessing(key: K): boolean {
    return this.processing.has(key);
  }

  get length(): number {
    return this.queue.length;
  }

  get busy(): number {
    return this.processing.size;
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  /** Milliseconds until the token bucket allows another retry (0 when a token is free). */
  private takeToken(): number {
    const qps = this.opts.qps ?? 10;
    const burst = this.opts.burst ?? 100;
    const now = this.now();
    this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefill) / 1000) * qps);
    this.lastRefill = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / qps) * 1000);
  }
}
