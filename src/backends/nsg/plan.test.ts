import type { SecurityRule } from '@azure/arm-network';
import { describe, expect, it } from 'vitest';
import { nodeIntent } from '../../../test/support/arm/intents.js';
import { NsgPriorityExhausted, nsgChanges } from './changes.js';
import { nsgRulePrefix, planNsgRules, type NsgPlan } from './plan.js';

const NSG = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/aks-nodes';
const target = { resourceId: NSG, priority: 200 };

/** A live rule as the SDK returns it, from a plan (what our earlier sync wrote) or by hand (foreign). */
const liveOf = (plan: NsgPlan, priorities: number[]): SecurityRule[] =>
  plan.rules.map((r, i) => ({ ...r, priority: priorities[i]!, etag: 'W/"1"', provisioningState: 'Succeeded' }));
const foreign = (name: string, priority: number, over: Partial<SecurityRule> = {}): SecurityRule => ({
  name,
  priority,
  direction: 'Outbound',
  access: 'Allow',
  protocol: '*',
  etag: 'W/"1"',
  ...over,
});

describe('planNsgRules', () => {
  it('makes one outbound Allow TCP 443 rule per service tag, from VirtualNetwork, named under the owner prefix', () => {
    const plan = planNsgRules(nodeIntent(['EastUS']), target);
    const prefix = nsgRulePrefix(nodeIntent().owner);
    expect(prefix).toMatch(/^acr-access-[0-9a-f]{10}-$/);
    expect(plan.rules.map((r) => r.name)).toEqual([
      `${prefix}AzureContainerRegistry.EastUS`,
      `${prefix}Storage.EastUS`,
    ]);
    expect(plan.rules[0]).toMatchObject({
      protocol: 'Tcp',
      access: 'Allow',
      direction: 'Outbound',
      sourceAddressPrefix: 'VirtualNetwork',
      destinationPortRange: '443',
      destinationAddressPrefix: 'AzureContainerRegistry.EastUS',
    });
    for (const r of plan.rules) expect(r.name.length).toBeLessThanOrEqual(80);
  });

  it('is deterministic, adds MCR tags when asked, and a new region adds rules without renaming others', () => {
    const one = planNsgRules(nodeIntent(['EastUS']), target);
    expect(JSON.stringify(planNsgRules(nodeIntent(['EastUS']), target))).toBe(JSON.stringify(one));
    const two = planNsgRules(nodeIntent(['EastUS', 'WestEurope'], { mcr: true }), target);
    const names = two.rules.map((r) => r.name.slice(one.prefix.length));
    expect(names).toEqual([
      'AzureContainerRegistry.EastUS',
      'AzureContainerRegistry.WestEurope',
      'AzureFrontDoor.FirstParty',
      'MicrosoftContainerRegistry',
      'Storage.EastUS',
      'Storage.WestEurope',
    ]);
    for (const r of one.rules) expect(two.rules.map((x) => x.name)).toContain(r.name);
  });

  it('gives different owners (or the same name with another uid) different prefixes', () => {
    const a = nsgRulePrefix(nodeIntent([], { uid: 'u1' }).owner);
    const b = nsgRulePrefix(nodeIntent([], { uid: 'u2' }).owner);
    expect(a).not.toBe(b);
  });

  it('falls back to the prefixes, per family, when the intent has no service tags', () => {
    const intent = { ...nodeIntent(), provenance: { ...nodeIntent().provenance, tags: [] } };
    intent.prefixes = { ipv4: ['20.1.0.0/16', '10.0.0.0/8'], ipv6: ['2603:1030::/48'] };
    const plan = planNsgRules(intent, target);
    expect(plan.rules.map((r) => [r.name.slice(plan.prefix.length), r.destinationAddressPrefixes])).toEqual([
      ['ipv4-0', ['10.0.0.0/8', '20.1.0.0/16']],
      ['ipv6-0', ['2603:1030::/48']],
    ]);
  });

  it('refuses a priority NSGs do not accept', () => {
    expect(() => planNsgRules(nodeIntent(), { resourceId: NSG, priority: 99 })).toThrow(RangeError);
    expect(() => planNsgRules(nodeIntent(), { resourceId: NSG, priority: 4097 })).toThrow(RangeError);
  });
});

describe('nsgChanges', () => {
  const plan = planNsgRules(nodeIntent(['EastUS', 'WestEurope']), target);

  it('allocates upward from the base priority around foreign outbound rules, ignoring inbound ones', () => {
    const live = [foreign('deny-ssh', 200, { direction: 'Inbound' }), foreign('proxy', 201), foreign('x', 203)];
    const c = nsgChanges(live, plan);
    expect(c.puts.map((p) => p.priority)).toEqual([200, 202, 204, 205]);
    expect(c.puts.every((p) => p.etag === undefined)).toBe(true);
    expect(c.deletes).toEqual([]);
  });

  it('writes nothing when our rules already match, wherever they sit above the base', () => {
    const live = [foreign('proxy', 200), ...liveOf(plan, [201, 300, 202, 203])];
    const c = nsgChanges(live, plan);
    expect(c.puts).toEqual([]);
    expect(c.deletes).toEqual([]);
    expect(c.applied.map((a) => a.priority)).toEqual([201, 300, 202, 203]);
  });

  it('updates a hand-edited rule of ours in place with its ETag, and moves rules below a raised base', () => {
    const live = liveOf(plan, [200, 201, 202, 203]);
    live[1] = { ...live[1]!, destinationPortRange: '*' };
    const c = nsgChanges(live, { ...plan, basePriority: 201 });
    expect(c.puts.map((p) => [p.rule.name, p.priority, p.etag])).toEqual([
      [plan.rules[0]!.name, 204, 'W/"1"'],
      [plan.rules[1]!.name, 201, 'W/"1"'],
    ]);
  });

  it('deletes only our rules that are no longer desired, and never reuses their priority in the same pass', () => {
    const before = planNsgRules(nodeIntent(['EastUS', 'WestEurope']), target);
    const after = planNsgRules(nodeIntent(['EastUS', 'NorthEurope']), target);
    const live = [...liveOf(before, [200, 201, 202, 203]), foreign('other-team', 150)];
    const c = nsgChanges(live, after);
    expect(c.deletes.map((d) => d.name.slice(plan.prefix.length))).toEqual([
      'AzureContainerRegistry.WestEurope',
      'Storage.WestEurope',
    ]);
    expect(c.puts.map((p) => [p.rule.name.slice(plan.prefix.length), p.priority])).toEqual([
      ['AzureContainerRegistry.NorthEurope', 204],
      ['Storage.NorthEurope', 205],
    ]);
  });

  it('treats another owner’s rules as foreign: never deleted, their priorities avoided', () => {
    const other = planNsgRules(nodeIntent(['EastUS'], { uid: 'someone-else' }), target);
    const c = nsgChanges(liveOf(other, [200, 201]), plan);
    expect(c.deletes).toEqual([]);
    expect(c.puts.map((p) => p.priority)).toEqual([202, 203, 204, 205]);
  });

  it('warns when a foreign outbound Deny rule comes first, and fails when no priority is left', () => {
    expect(nsgChanges([foreign('deny-internet', 4000, { access: 'Deny' })], plan).warnings).toEqual([]);
    const shadowed = nsgChanges([foreign('deny-internet', 201, { access: 'Deny' })], plan);
    // 200 comes before the Deny; the three placed at 202-204 come after it.
    expect(shadowed.warnings).toHaveLength(3);
    expect(shadowed.warnings[0]).toContain('comes after outbound Deny rule deny-internet (201)');
    const full = Array.from({ length: 4096 - 4090 + 1 }, (_, i) => foreign(`f${i}`, 4090 + i));
    expect(() => nsgChanges(full, { ...plan, basePriority: 4090 })).toThrow(NsgPriorityExhausted);
  });

  it('reports our rules ARM is still provisioning', () => {
    const live = liveOf(plan, [200, 201, 202, 203]);
    live[2] = { ...live[2]!, provisioningState: 'Updating' };
    expect(nsgChanges(live, plan).provisioning).toEqual([plan.rules[2]!.name]);
  });
});
