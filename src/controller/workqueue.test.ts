import { describe, expect, it } from 'vitest';
import { WorkQueue } from './workqueue.js';

describe('WorkQueue', () => {
  it('collapses repeated adds of a queued key into one', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands out a key twice at once, and requeues it when added during processing', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.add('a');
    expect(q.length).toBe(0);
    q.done(key!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('a');
  });

  it('wakes a waiting worker', async () => {
    const q = new WorkQueue();
    const pending = q.get();
    q.add('x');
    expect(await pending).toBe('x');
    expect(q.busy).toBe(1);
  });

  it('delays adds, and an earlier delay for the same key wins', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 200);
    q.addAfter('k', 20);
    q.addAfter('k', 500);
    const started = Date.now();
    expect(await q.get()).toBe('k');
    expect(Date.now() - started).toBeLessThan(190);
  });

  it('backs off per key exponentially and forgets on success', () => {
    let now = 0;
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000, now: () => now });
    const delays: number[] = [];
    const original = q.addAfter.bind(q);
    q.addAfter = (key, ms) => {
      delays.push(ms);
      original(key, 0);
    };
    for (let i = 0; i < 6; i++) q.addRateLimited('k');
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(q.retries('k')).toBe(6);
    q.forget('k');
    expect(q.retries('k')).toBe(0);
    now += 1;
  });

  it('limits retries overall with a token bucket', () => {
    let now = 0;
    const q = new WorkQueue({ baseDelayMs: 1, qps: 10, burst: 2, now: () => now });
    const delays: number[] = [];
    q.addAfter = (_key, ms) => void delays.push(ms);
    for (const k of ['a', 'b', 'c', 'd']) q.addRateLimited(k);
    expect(delays).toEqual([1, 1, 100, 200]);
    now = 1000;
    q.addRateLimited('e');
    expect(delays[4]).toBe(1);
  });

  it('returns undefined to waiting workers on shutdown', async () => {
    const q = new WorkQueue();
    const pending = q.get();
    q.shutdown();
    expect(await pending).toBeUndefined();
    q.add('late');
    expect(q.length).toBe(0);
  });

  it('holds a delay longer than a Node timer can instead of firing it at once', async () => {
    const q = new WorkQueue();
    q.addAfter('late', 30 * 86_400_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(q.length).toBe(0);
    q.shutdown();
  });
});
