import { describe, expect, it } from 'vitest';
import { nextExpiry, retain, retainHosts } from './retention.js';

const DAY = 86_400_000;
const t0 = new Date('2026-01-01T00:00:00Z');

describe('retain (make-before-break)', () => {
  it('adds new prefixes at once and keeps removed ones for the grace period', () => {
    const r = retain({
      desired: ['10.0.0.0/24', '10.0.2.0/24'],
      applied: ['10.0.0.0/24', '10.0.1.0/24'],
      retiring: [],
      now: t0,
      graceMs: 7 * DAY,
    });
    expect(r.effective).toEqual(['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24']);
    expect(r.added).toEqual(['10.0.2.0/24']);
    expect(r.startedRetiring).toEqual(['10.0.1.0/24']);
    expect(r.retiring).toEqual([
      { prefix: '10.0.1.0/24', since: '2026-01-01T00:00:00.000Z', until: '2026-01-08T00:00:00.000Z' },
    ]);
  });

  it('keeps the original dates across reconciles and drops the prefix when the grace ends', () => {
    const first = retain({
      desired: ['10.0.0.0/24'],
      applied: ['10.0.0.0/24', '10.0.1.0/24'],
      retiring: [],
      now: t0,
      graceMs: 7 * DAY,
    });
    const later = retain({
      desired: ['10.0.0.0/24'],
      applied: first.effective,
      retiring: first.retiring,
      now: new Date(t0.getTime() + 3 * DAY),
      graceMs: 7 * DAY,
    });
    expect(later.retiring).toEqual(first.retiring);
    expect(later.startedRetiring).toEqual([]);
    const end = retain({
      desired: ['10.0.0.0/24'],
      applied: later.effective,
      retiring: later.retiring,
      now: new Date(t0.getTime() + 7 * DAY),
      graceMs: 7 * DAY,
    });
    expect(end.expired).toEqual(['10.0.1.0/24']);
    expect(end.effective).toEqual(['10.0.0.0/24']);
    expect(end.retiring).toEqual([]);
  });

  it('stops retiring a prefix that comes back', () => {
    const first = retain({ desired: [], applied: ['10.0.1.0/24'], retiring: [], now: t0, graceMs: DAY });
    const back = retain({
      desired: ['10.0.1.0/24'],
      applied: first.effective,
      retiring: first.retiring,
      now: t0,
      graceMs: DAY,
    });
    expect(back.retiring).toEqual([]);
    expect(back.effective).toEqual(['10.0.1.0/24']);
  });

  it('does not retire a prefix that a wider desired prefix still covers', () => {
    const r = retain({
      desired: ['10.0.0.0/23', '2603:1030::/32'],
      applied: ['10.0.1.0/24', '2603:1030:1::/48'],
      retiring: [],
      now: t0,
      graceMs: DAY,
    });
    expect(r.retiring).toEqual([]);
    expect(r.effective).toEqual(['10.0.0.0/23', '2603:1030::/32']);
  });

  it('knows the next expiry', () => {
    expect(nextExpiry([])).toBeUndefined();
    expect(
      nextExpiry([
        { prefix: 'a', since: '', until: '2026-01-03T00:00:00Z' },
        { prefix: 'b', since: '', until: '2026-01-02T00:00:00Z' },
      ]),
    ).toBe(Date.parse('2026-01-02T00:00:00Z'));
  });
});

describe('retainHosts', () => {
  const grace = 3_600_000;
  it('keeps a host that left for the grace period, then drops it; a host coming back stops retiring', () => {
    const first = retainHosts({ desired: ['a.io'], applied: ['a.io', 'b.io'], retiring: [], now: t0, graceMs: grace });
    expect(first.effective).toEqual(['a.io', 'b.io']);
    expect(first.retiring).toEqual([{ host: 'b.io', since: t0.toISOString(), until: '2026-01-01T01:00:00.000Z' }]);
    const later = new Date(t0.getTime() + grace / 2);
    expect(
      retainHosts({ desired: ['a.io'], applied: first.effective, retiring: first.retiring, now: later, graceMs: grace })
        .retiring,
    ).toEqual(first.retiring);
    const after = new Date(t0.getTime() + grace);
    expect(
      retainHosts({ desired: ['a.io'], applied: first.effective, retiring: first.retiring, now: after, graceMs: grace })
        .effective,
    ).toEqual(['a.io']);
    expect(
      retainHosts({
        desired: ['a.io', 'b.io'],
        applied: first.effective,
        retiring: first.retiring,
        now: later,
        graceMs: grace,
      }).retiring,
    ).toEqual([]);
  });
});
