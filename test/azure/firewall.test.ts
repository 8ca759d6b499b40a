// Azure Firewall Policy rule collection groups through the real @azure/arm-network client and the real
// workload-identity credential, against the fake ARM: our one group only, ETag preconditions, other groups untouched.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArmWriteError } from '../../src/azure/arm-write.js';
import type { ArmClients } from '../../src/azure/clients.js';
import { connectAzure } from '../../src/azure/connect.js';
import { planRuleCollectionGroup, type RcgPlan } from '../../src/backends/azure-firewall/plan.js';
import { releaseRuleCollectionGroup, syncRuleCollectionGroup } from '../../src/backends/azure-firewall/sync.js';
import { SUBSCRIPTION, startFakeArm, type FakeArmHarness } from '../support/arm/index.js';
import { nodeIntent } from '../support/arm/intents.js';
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

/** The platform team's group, as the portal writes one. */
const PLATFORM = {
  priority: 300,
  ruleCollections: [
    {
      ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
      name: 'deny-all-web',
      priority: 65000,
      action: { type: 'Deny' },
      rules: [
        {
          ruleType: 'ApplicationRule',
          name: 'all',
          sourceAddresses: ['*'],
          targetFqdns: ['*'],
          protocols: [{ protocolType: 'Https', port: 443 }],
        },
      ],
    },
  ],
};

let policy: string;
let n = 0;
beforeEach(() => {
  net.clear();
  policy = net.putFirewallPolicy({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-hub', name: `hub-${++n}` });
  net.putGroup(policy, 'platform', PLATFORM);
});

const plan = (regions: string[]): RcgPlan =>
  planRuleCollectionGroup(
    nodeIntent(regions),
    { resourceId: policy, ruleCollectionGroup: 'acr-contoso', priority: 250 },
    ['10.240.0.0/16'],
  );
const fqdns = (name = 'acr-contoso') => {
  const g = net.group(policy, name)!.properties as { ruleCollections: { rules: { targetFqdns?: string[] }[] }[] };
  return g.ruleCollections.flatMap((c) => c.rules.flatMap((r) => r.targetFqdns ?? []));
};
const groupWrites = (name: string) =>
  arm.fake.requests.filter((r) => r.method !== 'GET' && r.path === `${policy}/ruleCollectionGroups/${name}`);

describe('rule collection group: create, update, steady state, release', () => {
  it(
    'creates our group, adds a region, writes nothing at rest, deletes it on release, and never touches the platform group',
    async () => {
      const platformBefore = net.group(policy, 'platform');
      const created = await syncRuleCollectionGroup(clients, plan(['EastUS']), { ...fast, owned: false });
      expect(created).toMatchObject({ written: 1, owned: true, pending: false });
      expect(created.armId).toBe(`${policy}/ruleCollectionGroups/acr-contoso`);
      expect(fqdns()).toEqual(['azurecr.io', 'contoso.azurecr.io', 'contoso.eastus.data.azurecr.io']);
      expect(net.group(policy, 'acr-contoso')!.properties).toMatchObject({ priority: 250 });

      const before = arm.fake.requests.length;
      expect(await syncRuleCollectionGroup(clients, plan(['EastUS']), { ...fast, owned: true })).toMatchObject({
        written: 0,
      });
      const steady = arm.fake.requests.slice(before).filter((r) => r.path.startsWith('/subscriptions/'));
      expect(steady.map((r) => r.method)).toEqual(['GET']);

      const updated = await syncRuleCollectionGroup(clients, plan(['EastUS', 'WestEurope']), { ...fast, owned: true });
      expect(updated.written).toBe(1);
      expect(fqdns()).toContain('contoso.westeurope.data.azurecr.io');

      const released = await releaseRuleCollectionGroup(
        clients,
        { policyId: policy, name: 'acr-contoso' },
        { ...fast, owned: true },
      );
      expect(released.written).toBe(1);
      expect(net.group(policy, 'acr-contoso')).toBeUndefined();
      expect(net.group(policy, 'platform')).toEqual(platformBefore);
      expect(groupWrites('platform')).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'refuses a group of that name it does not own, adopts one that already matches, and releases nothing it does not own',
    async () => {
      const taken = await syncRuleCollectionGroup(
        clients,
        { ...plan(['EastUS']), name: 'platform' },
        { ...fast, owned: false },
      ).catch((e: unknown) => e);
      expect(taken).toMatchObject({ name: 'ArmWriteError', kind: 'NameConflict', transient: false });
      expect(groupWrites('platform')).toEqual([]);

      // Our create landed but the status recording it did not: the group matches, so it is ours again, unwritten.
      net.putGroup(policy, 'acr-contoso', plan(['EastUS']).group as Record<string, unknown>);
      const adopted = await syncRuleCollectionGroup(clients, plan(['EastUS']), { ...fast, owned: false });
      expect(adopted).toMatchObject({ written: 0, owned: true });

      expect(
        await releaseRuleCollectionGroup(clients, { policyId: policy, name: 'platform' }, { owned: false }),
      ).toEqual({
        written: 0,
        pending: false,
      });
      expect(net.group(policy, 'platform')).toBeDefined();
    },
    TIMEOUT,
  );

  it(
    'keeps another writer’s change to the platform group and, on a 412 for ours, re-reads and writes again',
    async () => {
      await syncRuleCollectionGroup(clients, plan(['EastUS']), { ...fast, owned: false });
      const edited = { ...PLATFORM, priority: 310 };
      // A concurrent writer changes both groups between our read and our write.
      net.beforeNextWrite(/\/ruleCollectionGroups\/acr-contoso$/, () => {
        net.putGroup(policy, 'platform', edited);
        net.putGroup(policy, 'acr-contoso', { ...plan(['EastUS']).group, priority: 251 });
      });
      const before412 = arm.fake.count(/ruleCollectionGroups\/acr-contoso$/, 412);
      const result = await syncRuleCollectionGroup(clients, plan(['EastUS', 'WestEurope']), { ...fast, owned: true });
      expect(arm.fake.count(/ruleCollectionGroups\/acr-contoso$/, 412)).toBe(before412 + 1);
      expect(result.written).toBe(1);
      expect(net.group(policy, 'acr-contoso')!.properties).toMatchObject({ priority: 250 });
      expect(fqdns()).toContain('contoso.westeurope.data.azurecr.io');
      expect(net.group(policy, 'platform')!.properties).toEqual(edited);
    },
    TIMEOUT,
  );
});

describe('rule collection group: ARM failures and slow writes', () => {
  it(
    'surfaces 429 past the SDK retries and a 500 as transient errors, leaving the group as it was',
    async () => {
      await syncRuleCollectionGroup(clients, plan(['EastUS']), { ...fast, owned: false });
      const before = net.group(policy, 'acr-contoso');
      net.inject({
        method: 'PUT',
        path: /ruleCollectionGroups\/acr-contoso$/,
        status: 429,
        retryAfterSeconds: 1,
        times: 3,
      });
      const throttled = await syncRuleCollectionGroup(clients, plan(['EastUS', 'WestEurope']), {
        ...fast,
        owned: true,
      }).catch((e: unknown) => e);
      expect(throttled).toBeInstanceOf(ArmWriteError);
      expect(throttled).toMatchObject({ kind: 'Transient', status: 429, retryAfterMs: 1000 });
      net.inject({ method: 'PUT', path: /ruleCollectionGroups\/acr-contoso$/, status: 500, times: 3 });
      const failed = await syncRuleCollectionGroup(clients, plan(['EastUS', 'WestEurope']), {
        ...fast,
        owned: true,
      }).catch((e: unknown) => e);
      expect(failed).toMatchObject({ kind: 'Transient', status: 500, transient: true });
      expect(net.group(policy, 'acr-contoso')).toEqual(before);
    },
    TIMEOUT,
  );

  it(
    'returns at the deadline while a slow write goes on, then sees it done without writing again',
    async () => {
      net.slowWrites(/ruleCollectionGroups\/acr-contoso$/, 1_500);
      const started = Date.now();
      const first = await syncRuleCollectionGroup(clients, plan(['EastUS']), {
        ...fast,
        owned: false,
        lroDeadlineMs: 300,
      });
      expect(Date.now() - started).toBeLessThan(1_200);
      expect(first).toMatchObject({ written: 1, pending: true, owned: true });
      expect(await syncRuleCollectionGroup(clients, plan(['EastUS']), { ...fast, owned: true })).toMatchObject({
        written: 0,
        pending: true,
      });
      await new Promise((r) => setTimeout(r, 1_600));
      expect(await syncRuleCollectionGroup(clients, plan(['EastUS']), { ...fast, owned: true })).toMatchObject({
        written: 0,
        pending: false,
      });
      expect(groupWrites('acr-contoso').filter((r) => r.method === 'PUT')).toHaveLength(1);
    },
    TIMEOUT,
  );

  it(
    'names a missing firewall policy as NotFound',
    async () => {
      const missing = policy.replace(/hub-\d+$/, 'nope');
      const err = await syncRuleCollectionGroup(
        clients,
        { ...plan(['EastUS']), policyId: missing },
        { owned: false },
      ).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'NotFound', status: 404 });
    },
    TIMEOUT,
  );
});
