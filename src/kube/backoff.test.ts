import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles per attempt and stops at the cap', () => {
    const noJitter = { baseMs: 100, maxMs: 1000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, noJitter))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('jitter takes off at most half the delay', () => {
    const opts = { baseMs: 1000, maxMs: 60_000 };
    expect(backoffDelay(2, { ...opts, random: () => 0 })).toBe(4000);
    expect(backoffDelay(2, { ...opts, random: () => 0.999999 })).toBe(2000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(3, opts);
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });
});
