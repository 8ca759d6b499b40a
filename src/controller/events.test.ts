import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/types.js';
import type { Logger } from '../observability/logger.js';
import { EventRecorder, microTime } from './events.js';

type Sent = KubeObject & { note: string; reason: string; series?: { count: number; lastObservedTime: string } };

function recorder(opts: { maxSeries?: number; fail?: boolean } = {}) {
  let clock = Date.parse('2026-11-25T10:00:00.000Z');
  const sent: Sent[] = [];
  const warnings: string[] = [];
  const client = {
    create: async (obj: KubeObject) => {
      if (opts.fail) throw new Error('forbidden');
      sent.push(obj as Sent);
      return obj;
    },
  } as unknown as KubeClient;
  const logger = { warn: (_: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
  const events = new EventRecorder(client, logger, 'pod-1', {
    windowMs: 600_000,
    sweepMs: 0,
    now: () => clock,
    ...(opts.maxSeries ? { maxSeries: opts.maxSeries } : {}),
  });
  return { events, sent, warnings, advance: (ms: number) => (clock += ms) };
}

const web = { apiVersion: 'acraccess.io/v1alpha1', kind: 'AcrAccess', name: 'web', namespace: 'team', uid: 'u1' };
const api = { ...web, name: 'api', uid: 'u2' };

describe('EventRecorder', () => {
  it('sends the first occurrence at once and counts repeats within the window into one summary', async () => {
    const { events, sent, advance } = recorder();
    await events.record(web, 'Normal', 'PoliciesUpdated', 'added 40 prefixes, feed 376');
    for (const n of [377, 378, 379]) {
      advance(60_000);
      await events.record(web, 'Normal', 'PoliciesUpdated', `added 1 prefixes, feed ${n - 1}→${n}`);
    }
    expect(sent.map((e) => e.note)).toEqual(['added 40 prefixes, feed 376']);

    await events.flush();
    expect(sent).toHaveLength(1); // the window is still open
    advance(600_000);
    await events.flush();
    expect(sent).toHaveLength(2);
    expect(sent[1]!.note).toBe('added 1 prefixes, feed 378→379');
    expect(sent[1]!.series).toEqual({ count: 4, lastObservedTime: microTime(new Date('2026-11-25T10:03:00.000Z')) });
    expect(events.size).toBe(0);
  });

  it('keeps objects and reasons apart, and starts a new series after the window', async () => {
    const { events, sent, advance } = recorder();
    await events.record(web, 'Normal', 'PoliciesUpdated', 'a');
    await events.record(api, 'Normal', 'PoliciesUpdated', 'a');
    await events.record(web, 'Warning', 'WriteRejected', 'b');
    expect(sent).toHaveLength(3);
    advance(600_000);
    await events.record(web, 'Normal', 'PoliciesUpdated', 'c');
    expect(sent.map((e) => e.note)).toEqual(['a', 'a', 'b', 'c']);
    expect(sent.every((e) => e.series === undefined)).toBe(true);
  });

  it('sends a notable occurrence inside an open series, and owes no summary for it', async () => {
    const { events, sent, advance } = recorder();
    await events.record(web, 'Normal', 'PoliciesUpdated', 'added 40');
    advance(1000);
    await events.record(web, 'Normal', 'PoliciesUpdated', 'retiring 1', { notable: true });
    advance(600_000);
    await events.flush();
    expect(sent.map((e) => e.note)).toEqual(['added 40', 'retiring 1']);
  });

  it('remembers at most maxSeries series, forgetting the oldest', async () => {
    const { events, sent } = recorder({ maxSeries: 2 });
    for (const name of ['a', 'b', 'c']) await events.record({ ...web, name, uid: name }, 'Normal', 'R', 'x');
    expect(events.size).toBe(2);
    expect(events.stats.forgotten).toBe(1);
    // 'a' was forgotten: its next occurrence is a first occurrence again.
    await events.record({ ...web, name: 'a', uid: 'a' }, 'Normal', 'R', 'x');
    expect(sent).toHaveLength(4);
  });

  it('never fails the caller when the API server refuses the event', async () => {
    const { events, warnings } = recorder({ fail: true });
    await expect(events.record(web, 'Warning', 'R', 'x')).resolves.toBeUndefined();
    await events.drain();
    expect(warnings).toEqual(['could not record an event']);
  });

  it('sends in the background, a bounded number at a time, and drops past a bounded backlog', async () => {
    const pending: (() => void)[] = [];
    const sent: string[] = [];
    const client = {
      create: (obj: KubeObject) => {
        sent.push(obj.metadata.name);
        return new Promise<void>((resolve) => pending.push(resolve));
      },
    } as unknown as KubeClient;
    const logger = { warn: () => undefined } as unknown as Logger;
    const events = new EventRecorder(client, logger, 'pod-1', { sweepMs: 0, maxInFlight: 1, maxBacklog: 1 });
    for (const name of ['a', 'b', 'c']) await events.record({ ...web, name, uid: name }, 'Normal', 'R', 'x');
    expect(sent).toHaveLength(1); // the record calls did not wait for the API server
    expect(events.stats.dropped).toBe(1);
    pending.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(2);
    pending.shift()!();
    await events.drain();
    expect(sent.map((n) => n.split('.')[0])).toEqual(['a', 'b']);
  });
});
