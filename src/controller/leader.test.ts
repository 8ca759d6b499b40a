import { describe, expect, test } from 'vitest';
import { microTime } from './events.js';
import {
  LEADER_TIMINGS,
  MICROTIME,
  acquiredSpec,
  heldByOther,
  leaderIdentity,
  releasedSpec,
  validateTimings,
} from './leader.js';

const T0 = new Date('2026-11-20T10:00:00.123Z');
const T1 = new Date('2026-11-20T10:00:02.456Z');

describe('leader election: the pure parts', () => {
  test('identity is <hostname>_<uuid>, new on every start', () => {
    const a = leaderIdentity('pod-7f9c');
    expect(a).toMatch(/^pod-7f9c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(leaderIdentity('pod-7f9c')).not.toBe(a);
  });

  test('times are MicroTimes with six fractional digits (the API server refuses three)', () => {
    expect(microTime(T0)).toBe('2026-11-20T10:00:00.123000Z');
    expect(MICROTIME.test(microTime(T0))).toBe(true);
    expect(MICROTIME.test(T0.toISOString())).toBe(false);
  });

  test('a new Lease: holder, 15 s, acquire = renew time, no transition yet', () => {
    expect(acquiredSpec(undefined, 'a_1', T0, 15)).toEqual({
      holderIdentity: 'a_1',
      leaseDurationSeconds: 15,
      acquireTime: '2026-11-20T10:00:00.123000Z',
      renewTime: '2026-11-20T10:00:00.123000Z',
      leaseTransitions: 0,
    });
  });

  test('renewing keeps acquireTime and transitions; only renewTime moves', () => {
    const held = acquiredSpec({ holderIdentity: 'b_2', leaseTransitions: 4 }, 'a_1', T0, 15);
    const renewed = acquiredSpec(held, 'a_1', T1, 15);
    expect(renewed.acquireTime).toBe(held.acquireTime);
    expect(renewed.renewTime).toBe('2026-11-20T10:00:02.456000Z');
    expect(renewed.leaseTransitions).toBe(5);
  });

  test('taking over from another holder, or a released lease, counts one transition', () => {
    expect(acquiredSpec({ holderIdentity: 'b_2', leaseTransitions: 2 }, 'a_1', T1, 15).leaseTransitions).toBe(3);
    const released = releasedSpec({ holderIdentity: 'b_2', leaseTransitions: 3 }, T0);
    const taken = acquiredSpec(released, 'a_1', T1, 15);
    expect(taken).toMatchObject({ holderIdentity: 'a_1', leaseTransitions: 4, acquireTime: microTime(T1) });
  });

  test('release (client-go ReleaseOnCancel): no holder, a 1 s lease, transitions kept', () => {
    expect(releasedSpec({ holderIdentity: 'a_1', leaseTransitions: 7, leaseDurationSeconds: 15 }, T1)).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: microTime(T1),
      renewTime: microTime(T1),
      leaseTransitions: 7,
    });
  });

  test('held by another only until its duration has passed since this process first saw the record', () => {
    const spec = { holderIdentity: 'b_2', leaseDurationSeconds: 15 };
    expect(heldByOther(spec, 'a_1', 1000, 1000 + 14_999)).toBe('b_2');
    expect(heldByOther(spec, 'a_1', 1000, 1000 + 15_000)).toBeUndefined();
    expect(heldByOther(spec, 'b_2', 1000, 1001)).toBeUndefined(); // our own
    expect(heldByOther({ holderIdentity: '', leaseDurationSeconds: 1 }, 'a_1', 1000, 1001)).toBeUndefined();
    expect(heldByOther(undefined, 'a_1', 1000, 1001)).toBeUndefined();
  });

  test('timings: the defaults are controller-runtime’s; inconsistent ones are refused', () => {
    expect(LEADER_TIMINGS).toEqual({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    expect(() => validateTimings(LEADER_TIMINGS)).not.toThrow();
    expect(() => validateTimings({ ...LEADER_TIMINGS, renewDeadlineMs: 15_000 })).toThrow(/lease duration/);
    expect(() => validateTimings({ ...LEADER_TIMINGS, retryPeriodMs: 9_500 })).toThrow(/retry period/);
    expect(() => validateTimings({ ...LEADER_TIMINGS, leaseDurationMs: 15_500 })).toThrow(/whole number/);
  });
});
