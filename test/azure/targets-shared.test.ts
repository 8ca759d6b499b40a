// Azure targets shared by resources, and registry truth from ARM reaching them: two ClusterAcrAccess writing into one
// NSG, one firewall policy and one registry's IP rules never lose each other's rules; a registry discovered by
// resource id gives its replica regions and data endpoints to the NSG and firewall rules, make-before-break.
import { describe, expect } from 'vitest';
import type { KubeObject } from '../../src/kube/types.js';
import { SUBSCRIPTION } from '../support/arm/index.js';
import {
  deleteAndWait,
  fqdnsOf,
  getCluster,
  ourRules,
  putTargets,
  useAzureOperator,
  waitAzure,
} from '../support/arm/targets.js';
import { eventually, test } from '../support/cluster.js';

const TIMEOUT = 180_000;

const h = useAzureOperator();
const start = (namespace: string) => h.start(namespace, { workers: 4 });

function byId(name: string, registryId: string, azure: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'acraccess.io/v1alpha1',
    kind: 'ClusterAcrAccess',
    metadata: { name },
    spec: { registry: { resourceId: registryId }, addressSources: ['ServiceTags'], azure },
  };
}

function registry(namespace: string, over: Record<string, unknown> = {}) {
  const name = `r${namespace.replace(/[^a-z0-9]/g, '')}`.slice(0, 50);
  const hashed = `${name}-e7ggejfuhzhgedc8`;
  const base = {
    subscriptionId: SUBSCRIPTION,
    resourceGroup: 'rg-acr',
    name,
    location: 'eastus',
    loginServer: `${hashed}.azurecr.io`,
    sku: 'Premium' as const,
    replications: ['eastus', 'westeurope'],
    ipRules: ['203.0.113.0/24'],
    defaultAction: 'Deny' as const,
  };
  const put = (more: Record<string, unknown> = {}) => h.arm.fake.putRegistry({ ...base, ...over, ...more });
  return { id: put(), hashed, put };
}

describe('Azure targets shared by resources, fed by ARM discovery', () => {
  test(
    'two resources in one NSG, one firewall policy and one registry keep each other’s rules, also on deletion',
    { timeout: TIMEOUT },
    async ({ namespace, admin }) => {
      const { nsg, policy } = putTargets(h.net, namespace);
      const { id } = registry(namespace);
      await start(namespace);
      const azure = (ip: string) => ({
        networkSecurityGroups: [{ resourceId: nsg, priority: 300 }],
        firewallPolicy: { resourceId: policy },
        registryFirewall: { enabled: true, egressIPs: [ip] },
      });
      const [a, b] = [`a-${namespace}`, `b-${namespace}`];
      // Applied together: both workers write to the same three ARM objects at once.
      await Promise.all([admin.apply(byId(a, id, azure('20.1.1.1'))), admin.apply(byId(b, id, azure('20.2.2.2')))]);
      const [ra, rb] = await Promise.all([waitAzure(admin, a, 'True'), waitAzure(admin, b, 'True')]);
      // One rule per tag per resource: four regional tags (two regions) each.
      const rules = Object.keys(h.net.rules(nsg)).filter((n) => n.startsWith('acr-access-'));
      expect(rules).toHaveLength(8);
      expect(ourRules(h.net, nsg)).toEqual(
        [
          'AzureContainerRegistry.EastUS',
          'AzureContainerRegistry.WestEurope',
          'Storage.EastUS',
          'Storage.WestEurope',
        ].flatMap((t) => [t, t]),
      );
      const groups = [ra, rb].map((r) => r.status?.applied?.azure?.ruleCollectionGroups?.[0]?.split('/').pop());
      expect(new Set(groups).size).toBe(2);
      for (const g of groups) expect(fqdnsOf(h.net, policy, g!)).toContain(ra.status?.endpoints?.loginServer);
      expect(h.fw.ipRules(id).sort()).toEqual(['20.1.1.1', '20.2.2.2', '203.0.113.0/24']);

      await deleteAndWait(admin, a);
      expect(Object.keys(h.net.rules(nsg)).filter((n) => n.startsWith('acr-access-'))).toHaveLength(4);
      expect(h.net.group(policy, groups[0]!)).toBeUndefined();
      expect(fqdnsOf(h.net, policy, groups[1]!)).toBeDefined();
      expect(h.fw.ipRules(id).sort()).toEqual(['20.2.2.2', '203.0.113.0/24']);
      await deleteAndWait(admin, b);
      expect(ourRules(h.net, nsg)).toEqual([]);
      expect(h.fw.ipRules(id)).toEqual(['203.0.113.0/24']);
    },
  );

  test(
    'replica regions and data endpoints from ARM reach the NSG and firewall rules; enabling data endpoints keeps the storage wildcard through the grace period',
    { timeout: TIMEOUT },
    async ({ namespace, admin }) => {
      const { nsg, policy } = putTargets(h.net, namespace);
      const { id, hashed, put } = registry(namespace, { replications: ['eastus'] });
      await start(namespace);
      const name = `c-${namespace}`;
      const azure = {
        networkSecurityGroups: [{ resourceId: nsg, priority: 300 }],
        firewallPolicy: { resourceId: policy, ruleCollectionGroup: 'acr' },
      };
      await admin.apply(byId(name, id, azure));
      await waitAzure(admin, name, 'True');
      expect(ourRules(h.net, nsg)).toEqual(['AzureContainerRegistry.EastUS', 'Storage.EastUS']);
      expect(fqdnsOf(h.net, policy, 'acr')).toEqual(
        ['*.blob.core.windows.net', 'azurecr.io', `${hashed}.azurecr.io`].sort(),
      );

      // A replica in westeurope and dedicated data endpoints, as ARM now reports them.
      const dde = [`${hashed}.eastus.data.azurecr.io`, `${hashed}.westeurope.data.azurecr.io`];
      put({ replications: ['eastus', 'westeurope'], dataEndpointEnabled: true, dataEndpointHostNames: dde });
      const after = await eventually(
        'the replica and data endpoints in the Azure rules',
        async () =>
          fqdnsOf(h.net, policy, 'acr')?.includes(dde[1]!) && ourRules(h.net, nsg).length === 4 ? true : undefined,
        60_000,
      );
      expect(after).toBe(true);
      // Make-before-break: blob links handed out before the switch keep working through the grace period.
      expect(fqdnsOf(h.net, policy, 'acr')).toEqual(
        ['*.blob.core.windows.net', 'azurecr.io', `${hashed}.azurecr.io`, ...dde].sort(),
      );
      // Status follows the Azure writes in the same reconcile.
      const status = await eventually(
        'status with the storage wildcard retiring',
        async () => {
          const s = (await getCluster(admin, name))?.status;
          return s?.endpoints?.retiring?.length ? s : undefined;
        },
        60_000,
      );
      expect(status.endpoints?.retiring?.map((r) => r.host)).toEqual(['*.blob.core.windows.net']);
      await deleteAndWait(admin, name);
    },
  );

  test(
    'Audit mode reads and compares, writes nothing to Azure and adds no finalizer',
    { timeout: TIMEOUT },
    async ({ namespace, admin }) => {
      const { nsg } = putTargets(h.net, namespace);
      const { id } = registry(namespace);
      await start(namespace);
      const name = `audit-${namespace}`;
      const resource = byId(name, id, {
        networkSecurityGroups: [{ resourceId: nsg, priority: 300 }],
        registryFirewall: { enabled: true, egressIPs: ['20.1.1.1'] },
      });
      (resource.spec as Record<string, unknown>).mode = 'Audit';
      const armWrites = () =>
        h.arm.fake.requests.filter((r) => r.method !== 'GET' && r.path.startsWith('/subscriptions/')).length;
      const writesBefore = armWrites();
      await admin.apply(resource);
      const audited = await waitAzure(admin, name, 'True');
      expect(audited.status?.azure?.targets?.map((t) => [t.kind, t.state])).toEqual([
        ['NetworkSecurityGroup', 'Audited'],
        ['RegistryFirewall', 'Audited'],
      ]);
      expect(audited.status?.azure?.targets?.[0]?.message).toMatch(/4 writes would be made/);
      expect(audited.status?.planes?.node).toBe('Audited');
      expect(audited.metadata.finalizers ?? []).toEqual([]);
      expect(armWrites()).toBe(writesBefore);
      expect(ourRules(h.net, nsg)).toEqual([]);
      expect(h.fw.ipRules(id)).toEqual(['203.0.113.0/24']);
      await deleteAndWait(admin, name);
    },
  );
});
