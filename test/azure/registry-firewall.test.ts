// The registry IP firewall through the real @azure/arm-containerregistry, @azure/arm-containerservice and
// @azure/arm-network clients and the real workload-identity credential, against the fake ARM: AKS egress discovery
// per outboundType, and read-modify-write of networkRuleSet.ipRules with foreign rules untouched throughout.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArmWriteError } from '../../src/azure/arm-write.js';
import type { ArmClients } from '../../src/azure/clients.js';
import { connectAzure } from '../../src/azure/connect.js';
import { discoverClusterEgress } from '../../src/backends/registry-firewall/egress.js';
import { releaseRegistryIpRules, syncRegistryIpRules } from '../../src/backends/registry-firewall/sync.js';
import { FakeRegistryFirewall, SUBSCRIPTION, startFakeArm, type FakeArmHarness } from '../support/arm/index.js';

const TIMEOUT = 60_000;
const fast = { pollIntervalMs: 50 };
const FOREIGN = ['203.0.113.0/24', '198.51.100.7'];

let arm: FakeArmHarness;
let fw: FakeRegistryFirewall;
let clients: ArmClients;
beforeAll(async () => {
  arm = await startFakeArm();
  fw = FakeRegistryFirewall.attach(arm.fake);
  clients = connectAzure(arm.settings()).clients;
}, TIMEOUT);
afterAll(() => arm?.stop());

let registry: string;
let path: RegExp;
let n = 0;
const putRegistry = (over: Partial<Parameters<FakeArmHarness['fake']['putRegistry']>[0]> = {}) => {
  const name = `contoso${++n}`;
  registry = arm.fake.putRegistry({
    subscriptionId: SUBSCRIPTION,
    resourceGroup: 'rg-acr',
    name,
    location: 'eastus',
    loginServer: `${name}.azurecr.io`,
    sku: 'Premium',
    ipRules: [...FOREIGN],
    defaultAction: 'Deny',
    ...over,
  });
  path = new RegExp(`/registries/${name}$`);
  return registry;
};
beforeEach(() => {
  fw.clear();
  putRegistry();
});

/** ARM requests since `from`, as [method, path suffix]. */
const since = (from: number) =>
  arm.fake.requests
    .slice(from)
    .filter((r) => r.path.startsWith('/subscriptions/'))
    .map((r) => [r.method, r.path.startsWith(registry) ? r.path.slice(registry.length) : r.path]);
const patches = () => fw.writes(path);

describe('egress discovery per outboundType', () => {
  const where = (name: string, group = 'MC_rg_aks') => ({ subscriptionId: SUBSCRIPTION, resourceGroup: group, name });
  const cluster = (c: Omit<Parameters<FakeRegistryFirewall['putCluster']>[0], 'subscriptionId' | 'resourceGroup'>) =>
    fw.putCluster({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-aks', ...c });

  it(
    'loadBalancer: the effective outbound IPs and the outbound IP prefixes, IPv6 left out with a warning',
    async () => {
      const ip1 = fw.putPublicIp({ ...where('lb-out-1'), ipAddress: '20.50.1.10' });
      const ip2 = fw.putPublicIp({ ...where('lb-out-2'), ipAddress: '20.50.1.9' });
      const ip6 = fw.putPublicIp({ ...where('lb-out-v6'), ipAddress: '2603:1030::10' });
      const prefix = fw.putPublicIpPrefix({ ...where('lb-prefix'), ipPrefix: '20.60.0.0/30' });
      const id = cluster({
        name: 'aks-lb',
        outboundType: 'loadBalancer',
        effectiveOutboundIPs: [ip1, ip2, ip6, ip1],
        outboundIPPrefixes: [prefix],
      });
      const egress = await discoverClusterEgress(clients, id);
      expect(egress).toMatchObject({
        outboundType: 'loadBalancer',
        addresses: ['20.50.1.9/32', '20.50.1.10/32', '20.60.0.0/30'],
        sources: [id, ip1, ip2, ip6, prefix],
      });
      expect(egress.warnings).toEqual([
        '2603:1030::10 (public IP lb-out-v6) is IPv6: ACR IP rules take IPv4 only, skipped',
      ]);
    },
    TIMEOUT,
  );

  it(
    'managedNATGateway: the NAT gateway profile’s effective outbound IPs',
    async () => {
      const ip = fw.putPublicIp({ ...where('nat-out-1'), ipAddress: '20.70.0.1' });
      const id = cluster({ name: 'aks-nat', outboundType: 'managedNATGateway', effectiveOutboundIPs: [ip] });
      expect(await discoverClusterEgress(clients, id)).toEqual({
        outboundType: 'managedNATGateway',
        addresses: ['20.70.0.1/32'],
        sources: [id, ip],
        warnings: [],
      });
    },
    TIMEOUT,
  );

  it(
    'userAssignedNATGateway: the NAT gateway of the node subnets, its IPs and prefixes (IPv6 ones skipped)',
    async () => {
      const ip = fw.putPublicIp({ ...where('natgw-ip', 'rg-net'), ipAddress: '20.80.0.5' });
      const prefix = fw.putPublicIpPrefix({ ...where('natgw-prefix', 'rg-net'), ipPrefix: '20.80.1.0/31' });
      const ip6 = fw.putPublicIp({ ...where('natgw-ip6', 'rg-net'), ipAddress: '2603:1030::5' });
      const nat = fw.putNatGateway({
        ...where('natgw', 'rg-net'),
        publicIps: [ip],
        publicIpPrefixes: [prefix],
        publicIpsV6: [ip6],
      });
      const subnet = (name: string) =>
        fw.putSubnet({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-net', vnet: 'hub', name, natGateway: nat });
      const [s1, s2] = [subnet('nodes-a'), subnet('nodes-b')];
      const id = cluster({ name: 'aks-udnat', outboundType: 'userAssignedNATGateway', subnets: [s1, s2, s1] });
      const egress = await discoverClusterEgress(clients, id);
      expect(egress.addresses).toEqual(['20.80.0.5/32', '20.80.1.0/31']);
      expect(egress.sources).toEqual([id, s1, s2, nat, ip, prefix]);
      expect(egress.warnings).toEqual([
        `${ip6} (IPv6 egress of NAT gateway natgw) skipped: ACR IP rules take IPv4 only`,
      ]);
    },
    TIMEOUT,
  );

  it(
    'userDefinedRouting: refused without a firewall policy; with one, the public IPs of its Azure Firewalls',
    async () => {
      const id = cluster({ name: 'aks-udr', outboundType: 'userDefinedRouting', subnets: [] });
      const err = await discoverClusterEgress(clients, id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArmWriteError);
      expect(err).toMatchObject({ kind: 'Rejected' });
      expect((err as Error).message).toMatch(/spec\.azure\.registryFirewall\.egressIPs.*spec\.azure\.firewallPolicy/);

      const pip1 = fw.putPublicIp({ ...where('fw-pip-1', 'rg-hub'), ipAddress: '20.90.0.1' });
      const pip2 = fw.putPublicIp({ ...where('fw-pip-2', 'rg-hub'), ipAddress: '20.90.0.2' });
      const azfw = fw.putAzureFirewall({ ...where('hub-fw', 'rg-hub'), publicIps: [pip1, pip2] });
      const hubFw = fw.putAzureFirewall({ ...where('vhub-fw', 'rg-hub'), hubAddresses: ['20.91.0.7'] });
      const policy = fw.putFirewallPolicy({ ...where('hub-policy', 'rg-hub'), firewalls: [azfw, hubFw] });
      const egress = await discoverClusterEgress(clients, id, { firewallPolicyId: policy });
      expect(egress).toMatchObject({
        outboundType: 'userDefinedRouting',
        addresses: ['20.90.0.1/32', '20.90.0.2/32', '20.91.0.7/32'],
        sources: [id, policy, azfw, pip1, pip2, hubFw],
        warnings: [],
      });
    },
    TIMEOUT,
  );

  it(
    'an unknown outboundType is refused; none has nothing to allow; IPv6-only or no address yet are errors, not []',
    async () => {
      const odd = cluster({ name: 'aks-odd', outboundType: 'sideways' });
      await expect(discoverClusterEgress(clients, odd)).rejects.toMatchObject({
        kind: 'Rejected',
        message: expect.stringMatching(/outboundType sideways/) as unknown,
      });
      const none = cluster({ name: 'aks-none', outboundType: 'none' });
      const isolated = await discoverClusterEgress(clients, none);
      expect(isolated).toMatchObject({ outboundType: 'none', addresses: [] });
      expect(isolated.warnings[0]).toMatch(/no public egress/);

      const v6 = fw.putPublicIp({ ...where('only-v6'), ipAddress: '2603:1030::99' });
      const v6only = cluster({ name: 'aks-v6', outboundType: 'managedNATGateway', effectiveOutboundIPs: [v6] });
      await expect(discoverClusterEgress(clients, v6only)).rejects.toMatchObject({ kind: 'Rejected' });
      const unallocated = fw.putPublicIp(where('not-yet'));
      const fresh = cluster({ name: 'aks-new', outboundType: 'loadBalancer', effectiveOutboundIPs: [unallocated] });
      await expect(discoverClusterEgress(clients, fresh)).rejects.toMatchObject({ kind: 'Transient' });
      const missing = odd.replace('aks-odd', 'aks-missing');
      // Not registered with the registry-firewall fake: the built-in answer is the example cluster, whose IPs are not.
      await expect(discoverClusterEgress(clients, missing)).rejects.toMatchObject({ kind: 'NotFound' });
    },
    TIMEOUT,
  );
});

describe('registry IP rules: add, keep, remove, release', () => {
  it(
    'adds ours after the foreign rules, removes our stale ones, writes nothing at rest, and releases exactly ours',
    async () => {
      let from = arm.fake.requests.length;
      const first = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3/32', '20.1.2.4/32'], owned: [] },
        fast,
      );
      expect(first).toMatchObject({
        owned: ['20.1.2.3', '20.1.2.4'],
        written: 1,
        added: ['20.1.2.3', '20.1.2.4'],
        removed: [],
        publicNetworkAccess: 'Enabled',
        sku: 'Premium',
        defaultAction: 'Deny',
        quota: { used: 4, limit: 200 },
        warnings: [],
        pending: false,
      });
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '20.1.2.3', '20.1.2.4']);
      // Read, quota, read again (the write is made from the newest read), write, verify.
      expect(since(from)).toEqual([
        ['GET', ''],
        ['GET', '/listUsages'],
        ['GET', ''],
        ['PATCH', ''],
        ['GET', ''],
      ]);

      from = arm.fake.requests.length;
      const steady = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.4', '20.1.2.3'], owned: first.owned },
        fast,
      );
      expect(steady).toMatchObject({ owned: first.owned, written: 0, added: [], removed: [], pending: false });
      expect(steady.quota).toBeUndefined();
      expect(since(from)).toEqual([['GET', '']]);

      const moved = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.4/32', '20.1.2.5/32'], owned: steady.owned },
        fast,
      );
      expect(moved).toMatchObject({ owned: ['20.1.2.4', '20.1.2.5'], added: ['20.1.2.5'], removed: ['20.1.2.3'] });
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '20.1.2.4', '20.1.2.5']);

      from = arm.fake.requests.length;
      const released = await releaseRegistryIpRules(clients, { registryId: registry, owned: moved.owned }, fast);
      expect(released).toMatchObject({ owned: [], written: 1, removed: ['20.1.2.4', '20.1.2.5'] });
      expect(fw.ipRules(registry)).toEqual(FOREIGN);
      // Nothing to add: no quota read.
      expect(since(from)).toEqual([
        ['GET', ''],
        ['PATCH', ''],
        ['GET', ''],
      ]);
      // The registry stays closed: defaultAction is never ours to change.
      const live = await clients.containerRegistry(SUBSCRIPTION).registries.get('rg-acr', registry.split('/').pop()!);
      expect(live.networkRuleSet?.defaultAction).toBe('Deny');
    },
    TIMEOUT,
  );

  it(
    'leaves a desired IP someone already listed foreign: not claimed, so release keeps it',
    async () => {
      fw.setIpRules(registry, [...FOREIGN, '20.1.2.3']);
      const result = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3/32', '20.1.2.4'], owned: [] },
        fast,
      );
      expect(result).toMatchObject({ owned: ['20.1.2.4'], added: ['20.1.2.4'] });
      await releaseRegistryIpRules(clients, { registryId: registry, owned: result.owned }, fast);
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '20.1.2.3']);
    },
    TIMEOUT,
  );

  it(
    'skips IPv6 desired values with a warning and never sends them',
    async () => {
      const result = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3', '2603:1030::1/128'], owned: [] },
        fast,
      );
      expect(result.added).toEqual(['20.1.2.3']);
      expect(result.warnings).toEqual(['2603:1030::1/128 is IPv6: ACR IP rules take IPv4 only, skipped']);
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '20.1.2.3']);
      // As ACR would have refused it.
      const name = registry.split('/').pop()!;
      const direct = clients.containerRegistry(SUBSCRIPTION).registries.update('rg-acr', name, {
        networkRuleSet: { defaultAction: 'Deny', ipRules: [{ action: 'Allow', iPAddressOrRange: '2603:1030::1' }] },
      });
      await expect(direct.pollUntilDone()).rejects.toMatchObject({ statusCode: 400 });
    },
    TIMEOUT,
  );

  it(
    'refuses, naming the numbers, when the rules would not fit the IP rule quota, and writes nothing',
    async () => {
      fw.setIpRuleLimit(registry, 3);
      const err = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3', '20.1.2.4'], owned: [] },
        fast,
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArmWriteError);
      expect(err).toMatchObject({ kind: 'Rejected', transient: false });
      expect((err as Error).message).toMatch(
        /allows 3 IP rules and has 2; adding 2 .* would make 4\. Nothing was written/,
      );
      expect(patches()).toBe(0);
      expect(fw.ipRules(registry)).toEqual(FOREIGN);
    },
    TIMEOUT,
  );

  it(
    'Audit reads and reports, and writes nothing',
    async () => {
      fw.setIpRules(registry, [...FOREIGN, '20.1.2.3']);
      const result = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.4'], owned: ['20.1.2.3'] },
        { ...fast, mode: 'Audit' },
      );
      expect(result).toMatchObject({
        owned: ['20.1.2.3'],
        written: 1,
        added: ['20.1.2.4'],
        removed: ['20.1.2.3'],
        pending: false,
      });
      expect(patches()).toBe(0);
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '20.1.2.3']);
    },
    TIMEOUT,
  );

  it(
    'reports public network access Disabled and a non-Premium SKU; on the latter nothing is written',
    async () => {
      putRegistry({ publicNetworkAccess: 'Disabled' });
      const closed = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3'], owned: [] },
        fast,
      );
      expect(closed).toMatchObject({ publicNetworkAccess: 'Disabled', written: 1, owned: ['20.1.2.3'] });
      expect(closed.warnings.join('\n')).toMatch(/public network access disabled/);

      putRegistry({ sku: 'Standard', ipRules: [], defaultAction: 'Allow' });
      const from = arm.fake.requests.length;
      const standard = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3'], owned: [] },
        fast,
      );
      expect(standard).toMatchObject({ sku: 'Standard', written: 0, added: [], owned: [], pending: false });
      expect(standard.warnings).toEqual([
        `registry ${registry.split('/').pop()} is Standard: IP rules are a Premium feature, so none were written`,
      ]);
      expect(since(from)).toEqual([['GET', '']]);
    },
    TIMEOUT,
  );
});

describe('registry IP rules: other writers', () => {
  it(
    'keeps a rule another writer adds while we read the quota (the write is made from the newer read)',
    async () => {
      fw.afterNextRead(path, () => fw.setIpRules(registry, [...FOREIGN, '192.0.2.10']));
      const result = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3'], owned: [] },
        fast,
      );
      expect(result).toMatchObject({ written: 1, owned: ['20.1.2.3'] });
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '192.0.2.10', '20.1.2.3']);
    },
    TIMEOUT,
  );

  it(
    'restores ours, keeping theirs, when a writer with an older read overwrites our write',
    async () => {
      // Their PATCH lands right after ours: made from a read without our rule, with one of their own.
      fw.afterNextWrite(path, () => fw.setIpRules(registry, [...FOREIGN, '192.0.2.20']));
      const result = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3'], owned: [] },
        fast,
      );
      expect(result).toMatchObject({ written: 2, owned: ['20.1.2.3'], added: ['20.1.2.3'], pending: false });
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '192.0.2.20', '20.1.2.3']);
    },
    TIMEOUT,
  );

  it(
    'gives up as Conflict when every write of ours is overwritten, leaving their rules in place',
    async () => {
      for (let i = 0; i < 5; i++)
        fw.afterNextWrite(path, () => fw.setIpRules(registry, [...FOREIGN, `192.0.2.${30 + i}`]));
      const err = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3'], owned: [] },
        { ...fast, maxConflicts: 2 },
      ).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'ArmWriteError', kind: 'Conflict', transient: true });
      expect(patches()).toBe(3);
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '192.0.2.32']);
    },
    TIMEOUT,
  );

  it(
    'documents the window no client can close without an ETag: a PATCH landing just before ours is overwritten',
    async () => {
      let landed = false;
      fw.beforeNextWrite(path, () => {
        fw.setIpRules(registry, [...FOREIGN, '192.0.2.40']);
        landed = true;
      });
      await syncRegistryIpRules(clients, { registryId: registry, desired: ['20.1.2.3'], owned: [] }, fast);
      expect(landed).toBe(true);
      // ACR's Registry has no ETag (api-version 2025-11-01), so neither we nor `az acr network-rule add` can tell.
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '20.1.2.3']);
    },
    TIMEOUT,
  );

  it(
    'serialises two resources writing one registry, so neither loses the other’s rules',
    async () => {
      const [a, b] = await Promise.all([
        syncRegistryIpRules(clients, { registryId: registry, desired: ['20.1.2.3'], owned: [] }, fast),
        syncRegistryIpRules(clients, { registryId: registry, desired: ['20.9.9.9'], owned: [] }, fast),
      ]);
      expect([a.owned, b.owned]).toEqual([['20.1.2.3'], ['20.9.9.9']]);
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '20.1.2.3', '20.9.9.9']);
    },
    TIMEOUT,
  );
});

describe('registry IP rules: ARM failures and slow writes', () => {
  it(
    'rides out 429 with Retry-After and 500s (the SDK retries them)',
    async () => {
      arm.fake.inject({ path, method: 'GET', status: 500 });
      arm.fake.inject({ path: /\/listUsages$/, status: 500 });
      arm.fake.inject({ path, method: 'PATCH', status: 429, retryAfterSeconds: 1 });
      const started = Date.now();
      const result = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3'], owned: [] },
        fast,
      );
      expect(result).toMatchObject({ written: 1, owned: ['20.1.2.3'] });
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(arm.fake.count(path, 429)).toBe(1);
      expect(arm.fake.count(path, 500) + arm.fake.count(/\/listUsages$/, 500)).toBe(2);
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '20.1.2.3']);
    },
    TIMEOUT,
  );

  it(
    'surfaces throttling past the SDK retries as transient with Retry-After, the rules as they were',
    async () => {
      arm.fake.inject({ path, method: 'PATCH', status: 429, retryAfterSeconds: 1, times: 3 });
      const err = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3'], owned: [] },
        fast,
      ).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'ArmWriteError', kind: 'Transient', status: 429, retryAfterMs: 1000 });
      expect(fw.ipRules(registry)).toEqual(FOREIGN);
    },
    TIMEOUT,
  );

  it(
    'names a missing registry NotFound, and refuses what is not a registry id',
    async () => {
      const missing = registry.replace(/contoso\d+$/, 'nothere');
      await expect(syncRegistryIpRules(clients, { registryId: missing, desired: [], owned: [] })).rejects.toMatchObject(
        {
          kind: 'NotFound',
          status: 404,
        },
      );
      await expect(
        syncRegistryIpRules(clients, { registryId: '/subscriptions/x/resourceGroups/y', desired: [], owned: [] }),
      ).rejects.toMatchObject({ kind: 'Rejected' });
    },
    TIMEOUT,
  );

  it(
    'gives the worker back at the LRO deadline with the ledger whole, and finishes without rewriting',
    async () => {
      fw.slowWrites(path, 2_000);
      const started = Date.now();
      const first = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3'], owned: [] },
        { ...fast, lroDeadlineMs: 300 },
      );
      expect(Date.now() - started).toBeLessThan(1_800);
      expect(first).toMatchObject({ written: 1, pending: true, owned: ['20.1.2.3'] });
      expect(first.retryAfterMs).toBeGreaterThan(0);
      // ARM is still Updating: a change now waits rather than writing over it.
      const busy = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3', '20.1.2.4'], owned: first.owned },
        fast,
      );
      expect(busy).toMatchObject({ written: 0, pending: true, owned: ['20.1.2.3'] });
      expect(patches()).toBe(1);
      await new Promise((r) => setTimeout(r, 2_100));
      const done = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3'], owned: busy.owned },
        fast,
      );
      expect(done).toMatchObject({ written: 0, pending: false, owned: ['20.1.2.3'] });
      expect(arm.fake.count(/\/operationStatuses\//)).toBeGreaterThanOrEqual(1);
    },
    TIMEOUT,
  );

  it(
    'polls a slow write to completion within the deadline',
    async () => {
      fw.slowWrites(path, 300);
      const result = await syncRegistryIpRules(
        clients,
        { registryId: registry, desired: ['20.1.2.3'], owned: [] },
        { ...fast, lroDeadlineMs: 10_000 },
      );
      expect(result).toMatchObject({ written: 1, pending: false, owned: ['20.1.2.3'] });
      expect(fw.ipRules(registry)).toEqual([...FOREIGN, '20.1.2.3']);
    },
    TIMEOUT,
  );
});
