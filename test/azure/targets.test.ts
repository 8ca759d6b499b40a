// The operator writing Azure-side rules for a ClusterAcrAccess (spec.azure): NSG rules and a firewall policy rule
// collection group, through the real SDK clients and workload identity against the fake ARM, on a real API server.
import { readFile } from 'node:fs/promises';
import { describe, expect } from 'vitest';
import type { KubeObject } from '../../src/kube/types.js';
import { condition, eventsFor } from '../support/acraccess.js';
import { SUBSCRIPTION } from '../support/arm/index.js';
import { foreignRule } from '../support/arm/network-payloads.js';
import {
  clusterRef,
  deleteAndWait,
  fqdnsOf as fqdnsIn,
  getCluster,
  ourRules as ourRulesIn,
  putTargets,
  useAzureOperator,
  waitAzure,
} from '../support/arm/targets.js';
import { eventually, test } from '../support/cluster.js';

const TIMEOUT = 180_000;
const FINALIZER = 'acraccess.io/azure-cleanup';

const h = useAzureOperator();

const get = getCluster;
const ref = clusterRef;

function cluster(name: string, azure: Record<string, unknown>, regions = ['eastus']): KubeObject {
  return {
    apiVersion: 'acraccess.io/v1alpha1',
    kind: 'ClusterAcrAccess',
    metadata: { name },
    spec: { registry: { loginServer: 'contoso.azurecr.io', regions }, addressSources: ['ServiceTags'], azure },
  };
}

async function start(namespace: string): Promise<void> {
  await h.start(namespace);
}

/** putTargets, with the network team's rules in the NSG: an inbound SSH rule and an outbound proxy rule. */
function azureFixtures(n: string) {
  const targets = putTargets(h.net, n);
  h.net.putForeignRule(targets.nsg, 'allow-ssh', foreignRule({ priority: 200 }));
  h.net.putForeignRule(targets.nsg, 'proxy-out', foreignRule({ priority: 200, direction: 'Outbound', port: '3128' }));
  return targets;
}

const ourRules = (nsg: string) => ourRulesIn(h.net, nsg);
const fqdnsOf = (policy: string, name: string) => fqdnsIn(h.net, policy, name);
const armWrites = () => h.arm.fake.requests.filter((r) => r.method !== 'GET' && r.path.startsWith('/subscriptions/'));

describe('Azure-side targets of a ClusterAcrAccess', () => {
  test(
    'NSG rules and a rule collection group follow the registry; steady state writes nothing; deletion removes exactly ours',
    { timeout: TIMEOUT },
    async ({ namespace, admin }) => {
      const name = `az-${namespace}`;
      const { nsg, policy } = azureFixtures(namespace);
      const foreign = { ssh: h.net.rules(nsg)['allow-ssh'], proxy: h.net.rules(nsg)['proxy-out'] };
      await start(namespace);
      const azure = {
        networkSecurityGroups: [{ resourceId: nsg, priority: 200 }],
        firewallPolicy: { resourceId: policy, ruleCollectionGroup: 'acr-contoso', sourceAddresses: ['10.224.0.0/16'] },
      };
      await admin.apply(cluster(name, azure));
      const ready = await waitAzure(admin, name, 'True');
      expect(ourRules(nsg)).toEqual(['AzureContainerRegistry.EastUS', 'Storage.EastUS']);
      // Exactly the hosts the Kubernetes side allows: login server, data endpoint, storage wildcard.
      expect(ready.status?.applied?.hosts).toContain('*.blob.core.windows.net');
      expect(fqdnsOf(policy, 'acr-contoso')).toEqual([...(ready.status?.applied?.hosts ?? [])].sort());
      expect(h.net.rules(nsg)['allow-ssh']).toEqual(foreign.ssh);
      expect(h.net.rules(nsg)['proxy-out']).toEqual(foreign.proxy);
      expect(ready.metadata.finalizers).toContain(FINALIZER);
      expect(ready.status?.azure?.targets?.map((t) => [t.kind, t.state])).toEqual([
        ['FirewallPolicy', 'Enforced'],
        ['NetworkSecurityGroup', 'Enforced'],
      ]);
      expect(ready.status?.applied?.azure).toEqual({
        networkSecurityGroups: [nsg],
        ruleCollectionGroups: [`${policy}/ruleCollectionGroups/acr-contoso`],
      });
      // No nodeSelector, yet kubelet pulls are covered: they leave through the NSG and the firewall.
      expect(ready.status?.planes?.node).toBe('Enforced');
      expect(condition(ready, 'Ready')?.message).toMatch(
        /node plane \(kubelet image pulls\) is covered by FirewallPolicy, NetworkSecurityGroup/,
      );

      // Steady state: resyncs every 2 s read and write nothing.
      const writesBefore = armWrites().length;
      await new Promise((r) => setTimeout(r, 5000));
      expect(armWrites().length).toBe(writesBefore);

      // A replica: its tags and data hosts are added at once.
      await admin.apply(cluster(name, azure, ['eastus', 'westeurope']));
      await eventually('westeurope rules', async () => ourRules(nsg).length === 4 || undefined, 60_000);
      expect(ourRules(nsg)).toEqual([
        'AzureContainerRegistry.EastUS',
        'AzureContainerRegistry.WestEurope',
        'Storage.EastUS',
        'Storage.WestEurope',
      ]);
      // Dropped again: its tags retire with grace (an hour here) instead of going at once.
      await admin.apply(cluster(name, azure));
      const retiring = await eventually(
        'westeurope tags retiring',
        async () => {
          const r = await get(admin, name);
          return r?.status?.azure?.retiringTags?.length === 2 ? r : undefined;
        },
        60_000,
      );
      expect(retiring.status?.azure?.retiringTags?.map((t) => t.tag)).toEqual([
        'AzureContainerRegistry.WestEurope',
        'Storage.WestEurope',
      ]);
      expect(ourRules(nsg)).toHaveLength(4);

      await deleteAndWait(admin, name);
      expect(ourRules(nsg)).toEqual([]);
      expect(h.net.group(policy, 'acr-contoso')).toBeUndefined();
      expect(h.net.rules(nsg)['allow-ssh']).toEqual(foreign.ssh);
      expect(h.net.rules(nsg)['proxy-out']).toEqual(foreign.proxy);
    },
  );

  test(
    'Azure failures keep the rules in force and say Degraded; a target left out of the spec is released; a foreign group is never taken',
    { timeout: TIMEOUT },
    async ({ namespace, admin }) => {
      const name = `az-${namespace}`;
      const { nsg, policy } = azureFixtures(namespace);
      const second = h.net.putNsg({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-aks', name: `more-${namespace}` });
      // A group of that name the network team made: the operator must not overwrite it.
      h.net.putGroup(policy, 'taken', { priority: 300, ruleCollections: [] });
      const takenBefore = h.net.group(policy, 'taken');
      await start(namespace);
      const both = [
        { resourceId: nsg, priority: 200 },
        { resourceId: second, priority: 300 },
      ];
      await admin.apply(cluster(name, { networkSecurityGroups: both }));
      await waitAzure(admin, name, 'True');
      expect(ourRules(second)).toHaveLength(2);

      // ARM fails every write for a while: a replica is wanted, nothing in force is removed, Degraded says why.
      h.arm.fake.inject({ path: /\/securityRules\//, status: 500, times: 1000 });
      await admin.apply(cluster(name, { networkSecurityGroups: both }, ['eastus', 'westeurope']));
      const failing = await waitAzure(admin, name, 'False', /^AzureTransient$/);
      expect(condition(failing, 'Degraded')).toMatchObject({ status: 'True', reason: 'AzureTransient' });
      expect(condition(failing, 'Ready')?.status).toBe('True');
      expect(ourRules(nsg)).toEqual(['AzureContainerRegistry.EastUS', 'Storage.EastUS']);
      expect(failing.status?.azure?.targets?.every((t) => t.state === 'Failed')).toBe(true);
      h.arm.fake.clearFaults();
      await waitAzure(admin, name, 'True');
      expect(ourRules(nsg)).toHaveLength(4);

      // One NSG leaves the spec: our rules there go, the other keeps its rules.
      await admin.apply(cluster(name, { networkSecurityGroups: [both[0]] }, ['eastus', 'westeurope']));
      await eventually(
        'rules released from the NSG left out',
        async () => ourRules(second).length === 0 || undefined,
        60_000,
      );
      expect(ourRules(nsg)).toHaveLength(4);

      // A rule collection group name someone else holds: NameConflict for that target only.
      await admin.apply(
        cluster(
          name,
          { networkSecurityGroups: [both[0]], firewallPolicy: { resourceId: policy, ruleCollectionGroup: 'taken' } },
          ['eastus', 'westeurope'],
        ),
      );
      const conflict = await waitAzure(admin, name, 'False', /^AzureNameConflict$/);
      expect(conflict.status?.azure?.targets?.map((t) => [t.kind, t.state])).toEqual([
        ['FirewallPolicy', 'Failed'],
        ['NetworkSecurityGroup', 'Enforced'],
      ]);
      expect(h.net.group(policy, 'taken')).toEqual(takenBefore);
      expect(conflict.status?.applied?.azure?.ruleCollectionGroups ?? []).toEqual([]);
      const events = await eventsFor(admin, 'default', name);
      expect(events.some((e) => e.type === 'Warning' && e.reason === 'AzureNameConflict')).toBe(true);

      await deleteAndWait(admin, name);
      expect(ourRules(nsg)).toEqual([]);
      expect(h.net.group(policy, 'taken')).toEqual(takenBefore);
    },
  );

  test(
    'a deletion Azure refuses keeps the finalizer and says why; the skip annotation lets it go and leaves the rules',
    { timeout: TIMEOUT },
    async ({ namespace, admin }) => {
      const name = `az-${namespace}`;
      const { nsg } = azureFixtures(namespace);
      await start(namespace);
      await admin.apply(cluster(name, { networkSecurityGroups: [{ resourceId: nsg, priority: 200 }] }));
      await waitAzure(admin, name, 'True');
      h.arm.fake.inject({ path: /\/securityRules\//, status: 403, times: 1000 });
      await admin.delete(ref(name));
      const stuck = await eventually(
        'cleanup refused',
        async () => {
          const r = await get(admin, name);
          return condition(r, 'AzureApplied')?.reason === 'AzureCleanupFailed' ? r : undefined;
        },
        60_000,
      );
      expect(stuck.metadata.finalizers).toEqual([FINALIZER]);
      expect(condition(stuck, 'AzureApplied')?.message).toMatch(/acraccess\.io\/skip-azure-cleanup/);
      expect(ourRules(nsg)).toHaveLength(2);
      const events = await eventsFor(admin, 'default', name);
      expect(events.filter((e) => e.reason === 'AzureCleanupFailed').length).toBeGreaterThan(0);

      await admin.mergePatch(
        { apiVersion: 'acraccess.io/v1alpha1', kind: 'ClusterAcrAccess', metadata: { name } },
        {
          metadata: { annotations: { 'acraccess.io/skip-azure-cleanup': 'true' } },
        },
      );
      await eventually(`ClusterAcrAccess ${name} gone`, async () => !(await get(admin, name)), 60_000);
      expect(ourRules(nsg)).toHaveLength(2);
    },
  );

  test(
    'a long-running firewall policy write never holds a worker: Pending, then Enforced once Azure finishes',
    { timeout: TIMEOUT },
    async ({ namespace, admin }) => {
      const name = `az-${namespace}`;
      const { policy } = azureFixtures(namespace);
      // Longer than the worker's 5 s wait: the write goes on in Azure while the operator moves on.
      h.net.slowWrites(/\/ruleCollectionGroups\//, 8000);
      await start(namespace);
      await admin.apply(cluster(name, { firewallPolicy: { resourceId: policy } }));
      const pending = await waitAzure(admin, name, 'False', /^WriteInProgress$/);
      expect(pending.status?.azure?.targets).toMatchObject([{ kind: 'FirewallPolicy', state: 'Pending' }]);
      expect(condition(pending, 'Degraded')?.status).toBe('False');
      const done = await waitAzure(admin, name, 'True');
      expect(done.status?.azure?.targets).toMatchObject([{ kind: 'FirewallPolicy', state: 'Enforced' }]);
      expect(
        h.arm.fake.requests.filter((r) => r.method === 'PUT' && r.path.startsWith(`${policy}/ruleCollectionGroups/`)),
      ).toHaveLength(1);
      await deleteAndWait(admin, name);
    },
  );

  test(
    "the registry IP firewall gains the cluster's egress IPs, keeps foreign rules, retires a replaced IP with grace, releases only ours",
    { timeout: TIMEOUT },
    async ({ namespace, admin }) => {
      const name = `az-${namespace}`;
      const where = (n: string) => ({
        subscriptionId: SUBSCRIPTION,
        resourceGroup: 'MC_rg_aks',
        name: `${n}-${namespace}`,
      });
      const ip1 = h.fw.putPublicIp({ ...where('out-1'), ipAddress: '20.50.1.10' });
      const ip2 = h.fw.putPublicIp({ ...where('out-2'), ipAddress: '20.50.1.11' });
      const ip3 = h.fw.putPublicIp({ ...where('out-3'), ipAddress: '20.50.1.12' });
      const aks = { subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-aks', name: `aks-${namespace}` };
      const clusterId = h.fw.putCluster({ ...aks, outboundType: 'loadBalancer', effectiveOutboundIPs: [ip1, ip2] });
      const registryName = `r${namespace.replace(/[^a-z0-9]/g, '')}`.slice(0, 50);
      const registryId = h.arm.fake.putRegistry({
        subscriptionId: SUBSCRIPTION,
        resourceGroup: 'rg-acr',
        name: registryName,
        location: 'eastus',
        loginServer: `${registryName}.azurecr.io`,
        sku: 'Premium',
        ipRules: ['203.0.113.0/24', '20.50.1.11'],
        defaultAction: 'Deny',
      });
      await start(namespace);
      const spec = (over: Record<string, unknown> = {}) => ({
        apiVersion: 'acraccess.io/v1alpha1',
        kind: 'ClusterAcrAccess',
        metadata: { name },
        spec: {
          registry: { resourceId: registryId },
          addressSources: ['ServiceTags'],
          azure: { registryFirewall: { enabled: true, clusterResourceId: clusterId, egressIPs: ['198.51.100.7'] } },
          ...over,
        },
      });
      await admin.apply(spec());
      const ready = await waitAzure(admin, name, 'True');
      // 20.50.1.11 was there before: allowed, but not ours.
      expect(h.fw.ipRules(registryId).sort()).toEqual(['198.51.100.7', '20.50.1.10', '20.50.1.11', '203.0.113.0/24']);
      expect(ready.status?.applied?.azure?.registryIpRules).toEqual([
        { registryId, values: ['198.51.100.7', '20.50.1.10'] },
      ]);
      expect(ready.status?.azure?.targets).toMatchObject([
        { kind: 'RegistryFirewall', resourceId: registryId, state: 'Enforced' },
      ]);
      expect(ready.status?.azure?.targets?.[0]?.message).toMatch(/cluster outboundType loadBalancer/);

      // The cluster's outbound IP is replaced: the new one at once, the old one for the grace period.
      h.fw.putCluster({ ...aks, outboundType: 'loadBalancer', effectiveOutboundIPs: [ip3, ip2] });
      const moved = await eventually(
        'new egress IP allowed',
        async () => {
          const r = await get(admin, name);
          return h.fw.ipRules(registryId).includes('20.50.1.12') && r?.status?.azure?.retiringEgressIPs?.length
            ? r
            : undefined;
        },
        60_000,
      );
      expect(moved.status?.azure?.retiringEgressIPs?.map((r) => r.address)).toEqual(['20.50.1.10']);
      expect(h.fw.ipRules(registryId)).toContain('20.50.1.10');

      await deleteAndWait(admin, name);
      expect(h.fw.ipRules(registryId).sort()).toEqual(['20.50.1.11', '203.0.113.0/24']);
    },
  );
});

describe('the documented custom role', () => {
  test('holds every action behind the ARM calls the operator made in these tests', async () => {
    const role = JSON.parse(await readFile('deploy/azure/custom-role.json', 'utf8')) as { Actions: string[] };
    const granted = new Set(role.Actions.map((a) => a.toLowerCase()));
    const used = new Set(
      h.arm.fake.requests
        .filter((r) => r.path.startsWith('/subscriptions/') && r.status !== 401)
        .map((r) => armAction(r.method, r.path)),
    );
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((a) => !granted.has(a.toLowerCase())).sort()).toEqual([]);
  });
});

/** The action ARM authorizes for a request: the provider, the resource types of the path, and the verb. */
function armAction(method: string, path: string): string {
  const segments = path.split('/').filter(Boolean);
  const at = segments.lastIndexOf('providers');
  const [provider, ...rest] = segments.slice(at + 1);
  const types = rest.filter((_, i) => i % 2 === 0);
  const verb = method === 'GET' ? 'read' : method === 'DELETE' ? 'delete' : 'write';
  return [provider, ...types, verb].join('/');
}
