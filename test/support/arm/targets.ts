/** What the tests of the operator's Azure side share: reading ClusterAcrAccess status and the fake's Azure state. */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { AcrAccessStatus } from '../../../src/api/types.js';
import type { Operator, OperatorOptions } from '../../../src/controller/operator.js';
import type { KubeClient } from '../../../src/kube/client.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { condition } from '../acraccess.js';
import { clientFor, eventually } from '../cluster.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../operator.js';
import { SUBSCRIPTION, startFakeArm, type FakeArmHarness } from './index.js';
import { FakeNetwork } from './network.js';
import { FakeRegistryFirewall } from './registry-firewall.js';

export type Cluster = KubeObject & { status?: AcrAccessStatus };
export const clusterRef = (name: string) => ({ apiVersion: 'acraccess.io/v1alpha1', kind: 'ClusterAcrAccess', name });
export const getCluster = (admin: KubeClient, name: string) => admin.get<Cluster>(clusterRef(name));

/** Waits for the status of the current generation whose AzureApplied condition has the given status. */
export async function waitAzure(admin: KubeClient, name: string, status: 'True' | 'False', reason?: RegExp) {
  return eventually(
    `ClusterAcrAccess ${name} AzureApplied=${status}`,
    async () => {
      const r = await getCluster(admin, name);
      const c = condition(r, 'AzureApplied');
      const current = r?.status?.observedGeneration === r?.metadata.generation;
      return current && c?.status === status && (!reason || reason.test(c.reason)) ? r : undefined;
    },
    60_000,
  );
}

export async function deleteAndWait(admin: KubeClient, name: string): Promise<void> {
  await admin.delete(clusterRef(name));
  await eventually(`ClusterAcrAccess ${name} gone`, async () => !(await getCluster(admin, name)), 60_000);
}

/** The destinations of the operator's rules in an NSG (`acr-access-…`), sorted. */
export const ourRules = (net: FakeNetwork, nsg: string) =>
  Object.entries(net.rules(nsg))
    .filter(([name]) => name.startsWith('acr-access-'))
    .map(([, r]) => (r as { destinationAddressPrefix?: string }).destinationAddressPrefix)
    .sort();

/** The target FQDNs of a rule collection group, sorted; undefined when it does not exist. */
export const fqdnsOf = (net: FakeNetwork, policy: string, name: string) => {
  const g = net.group(policy, name)?.properties as
    { ruleCollections: { rules: { targetFqdns?: string[] }[] }[] } | undefined;
  return g?.ruleCollections.flatMap((c) => c.rules.flatMap((r) => r.targetFqdns ?? [])).sort();
};

/** An NSG on the node subnet and a hub firewall policy, named after the test (its namespace). */
export function putTargets(net: FakeNetwork, n: string): { nsg: string; policy: string } {
  const nsg = net.putNsg({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-aks', name: `nodes-${n}` });
  const policy = net.putFirewallPolicy({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-hub', name: `hub-${n}` });
  return { nsg, policy };
}

export interface AzureOperatorHarness {
  arm: FakeArmHarness;
  net: FakeNetwork;
  fw: FakeRegistryFirewall;
  /** Starts the operator with Azure on the fake, scoped to `namespace`; stopped after each test. */
  start(namespace: string, overrides?: Partial<OperatorOptions>): Promise<Operator>;
}

/**
 * Registers the hooks of a test file about the operator's Azure side: one fake ARM (Microsoft.Network and the
 * registry firewall routes) for the file, cleared before each test; faults and the operator gone after each.
 */
export function useAzureOperator(): AzureOperatorHarness {
  let operator: Operator | undefined;
  const h = {
    start: async (namespace: string, overrides: Partial<OperatorOptions> = {}) => {
      await bindOperatorNamespace(clientFor('admin'), namespace);
      operator = await startTestOperator(namespace, {
        azure: h.arm.settings(),
        resyncMs: 2000,
        graceMs: 3_600_000,
        ...overrides,
      });
      return operator;
    },
  } as AzureOperatorHarness;
  beforeAll(async () => {
    await installOperatorPrerequisites(clientFor('admin'));
    h.arm = await startFakeArm();
    h.net = FakeNetwork.attach(h.arm.fake);
    h.fw = FakeRegistryFirewall.attach(h.arm.fake);
  });
  beforeEach(() => {
    h.net.clear();
    h.fw.clear();
  });
  afterEach(async () => {
    h.arm.fake.clearFaults();
    await operator?.stop();
    operator = undefined;
  });
  afterAll(() => h.arm?.stop());
  return h;
}
