import { randomBytes } from 'node:crypto';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../observability/logger.js';

export interface Regarding {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** `events.k8s.io/v1` eventTime is a MicroTime: six fractional digits, or the API server refuses it. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface EventRecorderOptions {
  /** Repeats of the same reason for the same object within this window are counted, not sent (default 10 min). */
  windowMs?: number;
  /** At most this many open series are remembered; the oldest is forgotten first (default 4096). */
  maxSeries?: number;
  /** How often closed series are summarised; 0 disables the timer (tests call `flush()`). Default windowMs / 4. */
  sweepMs?: number;
  /** Events sent at once (default 8); more wait, up to `maxBacklog` (default 1000), past which they are dropped. */
  maxInFlight?: number;
  maxBacklog?: number;
  now?: () => number;
}

interface Series {
  regarding: Regarding;
  type: 'Normal' | 'Warning';
  reason: string;
  /** The latest note: the summary says what the last occurrence did. */
  note: string;
  first: number;
  last: number;
  /** Occurrences in this series, and how many of them were only counted (the summary is owed for those). */
  count: number;
  unsent: number;
}

/**
 * Records events.k8s.io/v1 Events, aggregated as client-go's event broadcaster does: the first occurrence of a
 * reason for an object is sent at once; repeats within `windowMs` are only counted, and when the window closes one
 * more Event carries the count as its `series`. So a feed rollout touching every resource twice in ten minutes
 * costs one request per resource, not one per change, and a failure retried with backoff cannot flood the
 * namespace. Everything is a create (the operator's RBAC has no patch on events). Memory is capped by `maxSeries`.
 * Recording never fails nor waits for a reconcile: as client-go's broadcaster, Events are sent in the background
 * (a few at a time, a bounded backlog, dropped past it), so a reconcile's status write does not queue behind one.
 */
export class EventRecorder {
  private readonly series = new Map<string, Series>();
  private readonly windowMs: number;
  private readonly maxSeries: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private readonly sweepMs: number;
  private flushing: Promise<void> | undefined;
  private readonly maxInFlight: number;
  private readonly maxBacklog: number;
  private inFlight = 0;
  private readonly backlog: (() => Promise<void>)[] = [];
  private drained: (() => void)[] = [];
  readonly stats = { sent: 0, aggregated: 0, forgotten: 0, dropped: 0 };

  constructor(
    private readonly client: KubeClient,
    private readonly logger: Logger,
    private readonly reportingInstance: string,
    options: EventRecorderOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 10 * 60_000;
    this.maxSeries = options.maxSeries ?? 4096;
    this.sweepMs = options.sweepMs ?? this.windowMs / 4;
    this.now = options.now ?? Date.now;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 8);
    this.maxBacklog = options.maxBacklog ?? 1000;
  }

  /**
   * `notable`: something a person should see now (a rule starting to retire, say) is sent even inside an open
   * series, and still counted in it.
   */
  async record(
    regarding: Regarding,
    type: 'Normal' | 'Warning',
    reason: string,
    note: string,
    opts: { notable?: boolean } = {},
  ): Promise<void> {
    const key = `${regarding.uid ?? `${regarding.namespace ?? ''}/${regarding.name}`}|${type}|${reason}`;
    const now = this.now();
    const open = this.series.get(key);
    if (open && now - open.first < this.windowMs) {
      open.count++;
      open.last = now;
      open.note = note;
      if (opts.notable) {
        open.unsent = 0;
        return this.send(regarding, type, reason, note, now);
      }
      open.unsent++;
      this.stats.aggregated++;
      return;
    }
    if (open) await this.close(key, open);
    this.series.set(key, { regarding, type, reason, note, first: now, last: now, count: 1, unsent: 0 });
    if (this.series.size > this.maxSeries) {
      // Forget the oldest series (Map keeps insertion order); its repeats go unreported rather than unbounded.
      const [oldest] = this.series.keys();
      this.series.delete(oldest!);
      this.stats.forgotten++;
    }
    this.startTimer();
    await this.send(regarding, type, reason, note, now);
  }

  /** Sends the summary of every series whose window has closed (all of them with `all`), and waits for them. */
  flush(all = false): Promise<void> {
    if (this.flushing) return this.flushing;
    const run = async () => {
      const now = this.now();
      for (const [key, s] of [...this.series]) if (all || now - s.first >= this.windowMs) await this.close(key, s);
      await this.drain();
    };
    const flushing = run().finally(() => {
      if (this.flushing === flushing) this.flushing = undefined;
    });
    this.flushing = flushing;
    return flushing;
  }

  /** Resolves once every Event handed over so far has been sent (or failed). */
  drain(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** Open series, for tests and metrics. */
  get size(): number {
    return this.series.size;
  }

  private async close(key: string, s: Series): Promise<void> {
    this.series.delete(key);
    if (s.unsent > 0) await this.send(s.regarding, s.type, s.reason, s.note, s.last, s.count);
  }

  private startTimer(): void {
    if (this.timer || this.sweepMs <= 0) return;
    this.timer = setInterval(() => void this.flush(), this.sweepMs);
    this.timer.unref();
  }

  /** Hands an Event to the background sender; resolves at once. */
  private send(
    regarding: Regarding,
    type: 'Normal' | 'Warning',
    reason: string,
    note: string,
    at: number,
    count?: number,
  ): Promise<void> {
    const post = () => this.post(regarding, type, reason, note, at, count);
    if (this.inFlight < this.maxInFlight) this.start(post);
    else if (this.backlog.length < this.maxBacklog) this.backlog.push(post);
    else {
      this.stats.dropped++;
      this.logger.warn({ reason, regarding }, 'too many events waiting to be sent; dropping one');
    }
    return Promise.resolve();
  }

  private start(post: () => Promise<void>): void {
    this.inFlight++;
    void post().finally(() => {
      this.inFlight--;
      const next = this.backlog.shift();
      if (next) this.start(next);
      else if (this.inFlight === 0) for (const resolve of this.drained.splice(0)) resolve();
    });
  }

  /** One Event create; failures are logged, never thrown. */
  private async post(
    regarding: Regarding,
    type: 'Normal' | 'Warning',
    reason: string,
    note: string,
    at: number,
    count?: number,
  ): Promise<void> {
    const namespace = regarding.namespace ?? 'default';
    const time = microTime(new Date(at));
    try {
      this.stats.sent++;
      await this.client.create(
        {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name: `${regarding.name}.${randomBytes(8).toString('hex')}`.slice(0, 253), namespace },
          eventTime: time,
          ...(count ? { series: { count, lastObservedTime: time } } : {}),
          reportingController: 'acraccess.io/acr-access-operator',
          reportingInstance: this.reportingInstance,
          action: 'Reconcile',
          reason,
          note: note.slice(0, 1024),
          type,
          regarding,
        },
        { discardResponse: true },
      );
    } catch (err) {
      this.logger.warn({ err, reason }, 'could not record an event');
    }
  }
}
