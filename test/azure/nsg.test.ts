// NSG rules through the real @azure/arm-network client and the real workload-identity credential, against the
// fake ARM's Microsoft.Network: per-rule writes with ETag preconditions, foreign rules untouched throughout.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArmWriteError } from '../../src/azure/arm-write.js';
import type { ArmClients } from '../../src/azure/clients.js';
import { connectAzure } from '../../src/azure/connect.js';
import { planNsgRules, type NsgPlan } from '../../src/backends/nsg/plan.js';
import { releaseNsgRules, syncNsgRules } from '../../src/backends/nsg/sync.js';
import { SUBSCRIPTION, startFakeArm, type FakeArmHarness } from '../support/arm/index.js';
import { nodeIntent } from '../support/arm/intents.js';
import { foreignRule } from '../support/arm/network-payloads.js';
import { FakeNetwork } from '../support/arm/network.js';

const TIMEOUT = 60_000;
const fast = { pollIntervalMs: 50 };

let arm: FakeArmHarness;
let net: FakeNetwork;
let clients: ArmClients;
beforeAll(async () => {
  arm = await startFakeArm();
  net = FakeNetwork.attach(arm.fake);
  clients = connectAzure(arm.settings()).clients;
}, TIMEOUT);
afterAll(() => arm?.stop());

let nsg: string;
let n = 0;
beforeEach(() => {
  net.clear();
  nsg = net.putNsg({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-aks', name: `aks-nodes-${++n}` });
  // The network team's rules: an inbound SSH rule and an outbound proxy rule sitting on our base priority.
  net.putForeignRule(nsg, 'allow-ssh', foreignRule({ priority: 200 }));
  net.putForeignRule(nsg, 'proxy-out', foreignRule({ priority: 200, direction: 'Outbound', port: '3128' }));
});

const plan = (regions: string[], over: Partial<NsgPlan> = {}) => ({
  ...planNsgRules(nodeIntent(regions), { resourceId: nsg, priority: 200 }),
  ...over,
});
const ours = (p: NsgPlan) => Object.entries(net.rules(nsg)).filter(([name]) => name.startsWith(p.prefix));
const priorities = (p: NsgPlan) => Object.fromEntries(ours(p).map(([k, v]) => [k.slice(p.prefix.length), v.priority]));
const armWrites = () => arm.fake.requests.filter((r) => r.method !== 'GET' && r.path.includes('/securityRules/'));

describe('NSG rules: create, update, steady state, release', () => {
  it(
    'creates one rule per tag at free priorities, updates when a region is added, writes nothing at rest, and releases only ours',
    async () => {
      const foreignBefore = { ssh: net.rules(nsg)['allow-ssh'], proxy: net.rules(nsg)['proxy-out'] };
      const one = plan(['EastUS']);
      const created = await syncNsgRules(clients, one, fast);
      expect(created).toMatchObject({ written: 2, pending: false, warnings: [] });
      // 200 is the proxy rule's (outbound); the inbound SSH rule at 200 does not collide.
      expect(priorities(one)).toEqual({ 'AzureContainerRegistry.EastUS': 201, 'Storage.EastUS': 202 });
      expect(ours(one)[0]![1]).toMatchObject({
        protocol: 'Tcp',
        access: 'Allow',
        direction: 'Outbound',
        sourceAddressPrefix: 'VirtualNetwork',
        destinationAddressPrefix: 'AzureContainerRegistry.EastUS',
        destinationPortRange: '443',
      });
      expect(created.refs[0]!.armId).toBe(`${nsg}/securityRules/${one.rules[0]!.name}`);

      const requestsBefore = arm.fake.requests.length;
      const writesBefore = armWrites().length;
      const again = await syncNsgRules(clients, one, fast);
      expect(again.written).toBe(0);
      expect(armWrites().length).toBe(writesBefore);
      // One GET of the NSG, nothing else.
      const steady = arm.fake.requests.slice(requestsBefore).filter((r) => r.path.startsWith('/subscriptions/'));
      expect(steady.map((r) => [r.method, r.path])).toEqual([['GET', nsg]]);

      const two = plan(['EastUS', 'WestEurope']);
      const updated = await syncNsgRules(clients, two, fast);
      expect(updated.written).toBe(2);
      expect(priorities(two)).toEqual({
        'AzureContainerRegistry.EastUS': 201,
        'Storage.EastUS': 202,
        'AzureContainerRegistry.WestEurope': 203,
        'Storage.WestEurope': 204,
      });
      // The EastUS rules were not rewritten.
      expect(
        armWrites()
          .slice(writesBefore)
          .every((r) => r.path.includes('WestEurope')),
      ).toBe(true);

      // Another resource's rules in the same NSG are foreign to this one.
      const other = planNsgRules(nodeIntent(['EastUS'], { uid: 'other' }), { resourceId: nsg, priority: 300 });
      await syncNsgRules(clients, other, fast);

      const released = await releaseNsgRules(clients, nodeIntent().owner, nsg, fast);
      expect(released.written).toBe(4);
      expect(ours(two)).toEqual([]);
      expect(ours(other)).toHaveLength(2);
      expect(net.rules(nsg)['allow-ssh']).toEqual(foreignBefore.ssh);
      expect(net.rules(nsg)['proxy-out']).toEqual(foreignBefore.proxy);
    },
    TIMEOUT,
  );

  it(
    'restores a hand-edited rule of ours in place, and leaves a rule another writer added meanwhile (412, re-read)',
    async () => {
      const p = plan(['EastUS']);
      await syncNsgRules(clients, p, fast);
      const name = p.rules[0]!.name;
      net.putForeignRule(nsg, name, { ...net.rules(nsg)[name]!, destinationPortRange: '*' });
      // Between our read and our write, the network team adds a rule: the NSG's ETag moves.
      const theirs = foreignRule({ priority: 900, direction: 'Outbound', access: 'Deny', destination: 'Internet' });
      net.beforeNextWrite(/\/securityRules\//, () => net.putForeignRule(nsg, 'deny-internet', theirs));
      const before412 = arm.fake.count(/\/securityRules\//, 412);
      const result = await syncNsgRules(clients, p, fast);
      expect(arm.fake.count(/\/securityRules\//, 412)).toBe(before412 + 1);
      expect(result.written).toBe(1);
      expect(net.rules(nsg)[name]).toMatchObject({ destinationPortRange: '443', priority: 201 });
      expect(net.rules(nsg)['deny-internet']).toEqual(theirs);
    },
    TIMEOUT,
  );

  it(
    'takes the next free priority when another writer takes ours between read and write (SecurityRuleConflict)',
    async () => {
      const p = plan(['EastUS']);
      const theirs = foreignRule({ priority: 201, direction: 'Outbound', port: '8443' });
      net.beforeNextWrite(/\/securityRules\//, () => net.putForeignRule(nsg, 'late-arrival', theirs));
      const result = await syncNsgRules(clients, p, fast);
      expect(arm.fake.count(/\/securityRules\//, 400)).toBeGreaterThanOrEqual(1);
      expect(result.written).toBe(2);
      expect(priorities(p)).toEqual({ 'AzureContainerRegistry.EastUS': 202, 'Storage.EastUS': 203 });
      expect(net.rules(nsg)['late-arrival']).toEqual(theirs);
    },
    TIMEOUT,
  );
});

describe('NSG rules: ARM failures', () => {
  it(
    'surfaces throttling past the SDK retries as a transient error with Retry-After, leaving the rules in place',
    async () => {
      const p = plan(['EastUS']);
      await syncNsgRules(clients, p, fast);
      const snapshot = net.rules(nsg);
      // Every attempt (the SDK's first try and its 2 retries) is throttled.
      net.inject({ method: 'PUT', path: /\/securityRules\//, status: 429, retryAfterSeconds: 1, times: 3 });
      const err = await syncNsgRules(clients, plan(['EastUS', 'WestEurope']), fast).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArmWriteError);
      expect(err).toMatchObject({ kind: 'Transient', status: 429, retryAfterMs: 1000, transient: true });
      expect(net.rules(nsg)).toEqual(snapshot);
    },
    TIMEOUT,
  );

  it(
    'surfaces a 500 on the read as transient and writes nothing',
    async () => {
      const p = plan(['EastUS']);
      await syncNsgRules(clients, p, fast);
      const snapshot = net.rules(nsg);
      const writes = armWrites().length;
      net.inject({ method: 'GET', path: /\/networkSecurityGroups\/[^/]+$/, status: 500, times: 3 });
      const err = await syncNsgRules(clients, plan(['EastUS', 'WestEurope']), fast).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'ArmWriteError', kind: 'Transient', status: 500 });
      expect(armWrites().length).toBe(writes);
      expect(net.rules(nsg)).toEqual(snapshot);
    },
    TIMEOUT,
  );

  it(
    'names a missing NSG as NotFound, which is not transient',
    async () => {
      const missing = nsg.replace(/aks-nodes-\d+$/, 'nope');
      const err = await syncNsgRules(clients, { ...plan(['EastUS']), resourceId: missing }, fast).catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ kind: 'NotFound', status: 404, transient: false });
    },
    TIMEOUT,
  );
});

describe('NSG rules: long-running writes', () => {
  it(
    'polls a slow write to completion within the deadline',
    async () => {
      const p = plan(['EastUS']);
      net.slowWrites(/\/securityRules\//, 300, 2);
      const result = await syncNsgRules(clients, p, { ...fast, lroDeadlineMs: 10_000 });
      expect(result).toMatchObject({ written: 2, pending: false });
      expect(ours(p).map(([, v]) => v.provisioningState)).toEqual(['Succeeded', 'Succeeded']);
      expect(arm.fake.count(/\/operations\//)).toBeGreaterThanOrEqual(2);
    },
    TIMEOUT,
  );

  it(
    'gives the worker back at the deadline, waits while ARM provisions, and finishes without rewriting',
    async () => {
      const p = plan(['EastUS']);
      net.slowWrites(/\/securityRules\//, 2_000, 1);
      const started = Date.now();
      const first = await syncNsgRules(clients, p, { ...fast, lroDeadlineMs: 300 });
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(first).toMatchObject({ written: 1, pending: true });
      expect(first.retryAfterMs).toBeGreaterThan(0);
      // Still Updating in ARM: no write over it.
      const writes = armWrites().length;
      expect(await syncNsgRules(clients, p, fast)).toMatchObject({ written: 0, pending: true });
      expect(armWrites().length).toBe(writes);
      await new Promise((r) => setTimeout(r, 2_100));
      const done = await syncNsgRules(clients, p, fast);
      expect(done).toMatchObject({ written: 1, pending: false });
      expect(ours(p)).toHaveLength(2);
    },
    TIMEOUT,
  );
});
