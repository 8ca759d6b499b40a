import { describe, expect, it } from 'vitest';
import { hasChanges, ipv4Key, planIpRules, quotaRefusal, ruleValue } from './plan.js';

describe('ipv4Key / ruleValue', () => {
  it('compares by the range covered, and writes a single host bare', () => {
    expect(ipv4Key('1.2.3.4')).toBe('1.2.3.4/32');
    expect(ipv4Key(' 1.2.3.4/32 ')).toBe('1.2.3.4/32');
    expect(ipv4Key('10.0.0.7/24')).toBe('10.0.0.0/24');
    expect(ipv4Key('2001:db8::1')).toBeUndefined();
    expect(ipv4Key('not-an-ip')).toBeUndefined();
    expect(ruleValue('1.2.3.4/32')).toBe('1.2.3.4');
    expect(ruleValue('10.0.0.0/24')).toBe('10.0.0.0/24');
  });
});

describe('planIpRules', () => {
  it('adds what is missing and keeps every foreign rule as read, in order', () => {
    const live = ['203.0.113.0/24', '198.51.100.7'];
    const plan = planIpRules(live, ['20.1.2.3/32', '20.1.2.4'], []);
    expect(plan.next).toEqual(['203.0.113.0/24', '198.51.100.7', '20.1.2.3', '20.1.2.4']);
    expect(plan.added).toEqual(['20.1.2.3', '20.1.2.4']);
    expect(plan.removed).toEqual([]);
    expect(plan.owned).toEqual(['20.1.2.3', '20.1.2.4']);
    expect(plan.current).toEqual([]);
    expect(hasChanges(plan)).toBe(true);
  });

  it('removes only ours that are no longer desired, in whatever form they were written', () => {
    const live = ['203.0.113.0/24', '20.1.2.3/32', '20.1.2.4'];
    const plan = planIpRules(live, ['20.1.2.4/32'], ['20.1.2.3', '20.1.2.4']);
    expect(plan.removed).toEqual(['20.1.2.3/32']);
    expect(plan.next).toEqual(['203.0.113.0/24', '20.1.2.4']);
    expect(plan.owned).toEqual(['20.1.2.4']);
    expect(plan.current).toEqual(['20.1.2.3', '20.1.2.4']);
  });

  it('never removes a rule outside the ledger, even one no longer desired', () => {
    const plan = planIpRules(['203.0.113.9', '20.1.2.3'], [], ['20.1.2.3']);
    expect(plan.next).toEqual(['203.0.113.9']);
    expect(plan.removed).toEqual(['20.1.2.3']);
  });

  it('leaves a desired value someone else already listed foreign: not claimed, so release leaves it', () => {
    const plan = planIpRules(['20.1.2.3/32'], ['20.1.2.3'], []);
    expect(hasChanges(plan)).toBe(false);
    expect(plan.owned).toEqual([]);
    expect(plan.foreign).toEqual(['20.1.2.3']);
    const release = planIpRules(['20.1.2.3/32'], [], plan.owned);
    expect(hasChanges(release)).toBe(false);
  });

  it('re-adds one of ours someone deleted, and forgets ledger entries no longer there and not desired', () => {
    const plan = planIpRules(['203.0.113.0/24'], ['20.1.2.3'], ['20.1.2.3', '20.9.9.9']);
    expect(plan.added).toEqual(['20.1.2.3']);
    expect(plan.removed).toEqual([]);
    expect(plan.owned).toEqual(['20.1.2.3']);
  });

  it('is a steady state when everything desired is in and nothing stale is', () => {
    const plan = planIpRules(['203.0.113.0/24', '20.1.2.3'], ['20.1.2.3/32'], ['20.1.2.3/32']);
    expect(hasChanges(plan)).toBe(false);
    expect(plan.owned).toEqual(['20.1.2.3']);
  });

  it('skips IPv6 and garbage with a warning, and sorts and dedupes what it adds', () => {
    const plan = planIpRules([], ['20.1.2.9', '2001:db8::/64', '20.1.2.3/32', 'nope', '20.1.2.3'], []);
    expect(plan.added).toEqual(['20.1.2.3', '20.1.2.9']);
    expect(plan.warnings).toEqual([
      '2001:db8::/64 is IPv6: ACR IP rules take IPv4 only, skipped',
      'nope is not an IP address or CIDR range: skipped',
    ]);
  });

  it('keeps a live value it cannot parse as foreign', () => {
    const plan = planIpRules(['weird'], ['20.1.2.3'], ['weird']);
    expect(plan.next).toEqual(['weird', '20.1.2.3']);
    expect(plan.removed).toEqual([]);
  });
});

describe('quotaRefusal', () => {
  it('names the numbers when the whole list would not fit, and says nothing when it does', () => {
    const plan = planIpRules(['1.1.1.1', '2.2.2.2'], ['3.3.3.3', '4.4.4.4'], []);
    expect(quotaRefusal('contoso', { limit: 4, used: 2 }, plan)).toBeUndefined();
    expect(quotaRefusal('contoso', { limit: 3, used: 2 }, plan)).toMatch(
      /^registry contoso allows 3 IP rules and has 2; adding 2 \(and removing 0\) would make 4\. Nothing was written/,
    );
  });
});
