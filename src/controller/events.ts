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

/**
 * Records events.k8s.io/v1 Events. The same note for the same object is not repeated within `dedupeMs`, so a
 * failure retried with backoff does not flood the namespace. Recording never fails a reconcile.
 */
export class EventRecorder {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly logger: Logger,
    private readonly reportingInstance: string,
    private readonly dedupeMs = 10 * 60_000,
  ) {}

  async record(regarding: Regarding, type: 'Normal' | 'Warning', reason: string, note: string): Promise<void> {
    const key = `${regarding.uid ?? regarding.name}|${reason}|${note}`;
    const now = Date.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < this.dedupeMs) return;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) this.recent.clear();
    const namespace = regarding.namespace ?? 'default';
    try {
      await this.client.create({
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: `${regarding.name}.${randomBytes(8).toString('hex')}`.slice(0, 253), namespace },
        eventTime: microTime(new Date(now)),
        reportingController: 'acraccess.io/acr-access-operator',
        reportingInstance: this.reportingInstance,
        action: 'Reconcile',
        reason,
        note: note.slice(0, 1024),
        type,
        regarding,
      });
    } catch (err) {
      this.logger.warn({ err, reason }, 'could not record an event');
    }
  }
}
