// The operator on a real API server with Azure Resource Manager configured: the fake ARM over HTTPS, reached by the
// real SDK clients with a real workload identity credential.
import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest';
import type { Operator, OperatorOptions } from '../../src/controller/operator.js';
import { acrAccess, cidrsOf, condition, getAcrAccess, npRef, waitReady } from '../support/acraccess.js';
import { clientFor, eventually, test } from '../support/cluster.js';
import { expectedCover, realFeed } from '../support/feeds.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../support/operator.js';
import {
  SUBSCRIPTION,
  serviceTagsBody,
  startFakeArm,
  type FakeArmHarness,
  type FakeRegistry,
} from '../support/arm/index.js';

const HASHED = 'contoso-e7ggejfuhzhgedc8';
const DDE = [`${HASHED}.eastus.data.azurecr.io`, `${HASHED}.westeurope.data.azurecr.io`];
const base: FakeRegistry = {
  subscriptionId: SUBSCRIPTION,
  resourceGroup: 'rg-acr',
  name: 'contoso',
  location: 'eastus',
  loginServer: `${HASHED}.azurecr.io`,
  dataEndpointEnabled: false,
  replications: ['eastus', 'westeurope'],
};
const feed = realFeed();
const BOTH_REGIONS = [
  'AzureContainerRegistry.EastUS',
  'Storage.EastUS',
  'AzureContainerRegistry.WestEurope',
  'Storage.WestEurope',
];

let arm: FakeArmHarness;
let operator: Operator | undefined;
beforeAll(async () => {
  await installOperatorPrerequisites(clientFor('admin'));
  arm = await startFakeArm();
});
afterEach(async () => {
  arm.fake.clearFaults();
  await operator?.stop();
  operator = undefined;
});
afterAll(() => arm?.stop());

/** A registry of its own per test (the fake is shared), named by resource id in the spec. */
function registry(namespace: string, over: Partial<FakeRegistry> = {}): { id: string; name: string } {
  const name = `r${namespace.replace(/[^a-z0-9]/g, '')}`.slice(0, 50);
  return { id: arm.fake.putRegistry({ ...base, name, ...over }), name };
}
const byId = (id: string) => ({ registry: { resourceId: id } });

async function start(namespace: string, overrides: Partial<OperatorOptions> = {}): Promise<Operator> {
  await bindOperatorNamespace(clientFor('admin'), namespace);
  return startTestOperator(namespace, { azure: arm.settings(), ...overrides });
}

describe('the operator with ARM discovery', () => {
  test('resources naming a registry by resource id get ARM truth, and share one ARM read per refresh', async ({
    namespace,
    admin,
  }) => {
    const { id, name } = registry(namespace, { dataEndpointEnabled: true, dataEndpointHostNames: DDE });
    operator = await start(namespace, { refreshIntervalMs: 600_000 });
    await admin.apply(acrAccess(namespace, 'one', byId(id)));
    await admin.apply(acrAccess(namespace, 'two', byId(id)));
    const one = await waitReady(admin, namespace, 'one');
    await waitReady(admin, namespace, 'two');
    expect(one.status?.endpoints).toMatchObject({
      loginServer: `${HASHED}.azurecr.io`,
      regions: ['eastus', 'westeurope'],
      dataEndpoints: DDE,
      storage: [],
    });
    expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-one')))).toEqual(expectedCover(feed, ...BOTH_REGIONS));
    await operator.manager.idle();
    expect(arm.fake.count(new RegExp(`/registries/${name}$`))).toBe(1);
    expect(arm.fake.count(new RegExp(`/registries/${name}/replications$`))).toBe(1);
  });

  test('a registry closed to the public says so: public network access and private endpoints in status and Ready', async ({
    namespace,
    admin,
  }) => {
    const { id } = registry(namespace, { publicNetworkAccess: 'Disabled', privateEndpoints: ['pe-aks'] });
    operator = await start(namespace, { refreshIntervalMs: 600_000 });
    await admin.apply(acrAccess(namespace, 'private', byId(id)));
    const ready = await waitReady(admin, namespace, 'private');
    expect(ready.status?.endpoints).toMatchObject({ publicNetworkAccess: 'Disabled', privateEndpoints: 1 });
    expect(condition(ready, 'Ready')?.message).toContain(
      'has public network access Disabled: pulls reach it only through its 1 private endpoint connection(s)',
    );
  });

  test('enabling data endpoints: the new hosts apply at once, the storage wildcard stays for the grace period', async ({
    namespace,
    admin,
  }) => {
    const { name } = registry(namespace);
    const id = arm.fake.putRegistry({ ...base, name });
    operator = await start(namespace, { refreshIntervalMs: 1000, resyncMs: 2000, graceMs: 3_600_000 });
    await admin.apply(acrAccess(namespace, 'flip', byId(id)));
    const before = await waitReady(admin, namespace, 'flip');
    expect(before.status?.endpoints?.storage).toEqual(['*.blob.core.windows.net']);
    expect(before.status?.applied?.hosts).toContain('*.blob.core.windows.net');

    arm.fake.putRegistry({ ...base, name, dataEndpointEnabled: true, dataEndpointHostNames: DDE });
    // Seen at the next reconcile after the cached read expires.
    const after = await eventually('data endpoints discovered', async () => {
      const r = await getAcrAccess(admin, namespace, 'flip');
      return r?.status?.endpoints?.dataEndpoints?.length ? r : undefined;
    });
    expect(after.status?.endpoints?.dataEndpoints).toEqual(DDE);
    expect(after.status?.endpoints?.storage).toEqual([]);
    // Make-before-break on hosts: blob links handed out before the switch keep working.
    expect(after.status?.applied?.hosts).toEqual(
      ['*.blob.core.windows.net', 'azurecr.io', `${HASHED}.azurecr.io`, ...DDE].sort(),
    );
    const retiring = after.status?.endpoints?.retiring ?? [];
    expect(retiring.map((r) => r.host)).toEqual(['*.blob.core.windows.net']);
    expect(Date.parse(retiring[0]!.until) - Date.parse(retiring[0]!.since)).toBe(3_600_000);
  });

  test('an ARM outage keeps the policies and says Degraded; a new resource writes nothing; recovery clears it', async ({
    namespace,
    admin,
  }) => {
    const { id, name } = registry(namespace);
    operator = await start(namespace, { refreshIntervalMs: 1000, resyncMs: 2000 });
    await admin.apply(acrAccess(namespace, 'steady', byId(id)));
    await waitReady(admin, namespace, 'steady');
    const policy = await admin.get(npRef(namespace, 'acr-access-steady'));

    arm.fake.inject({ path: new RegExp(`/registries/${name}$`), status: 500, times: 100_000 });
    const degraded = await eventually('Degraded during the outage', async () => {
      const r = await getAcrAccess(admin, namespace, 'steady');
      return condition(r, 'Degraded')?.status === 'True' ? r : undefined;
    });
    expect(condition(degraded, 'Degraded')).toMatchObject({ reason: 'DiscoveryFailed' });
    expect(condition(degraded, 'Degraded')?.message).toMatch(
      /500 InternalServerError.*; the policies in force stay as they are$/,
    );
    expect(condition(degraded, 'Ready')).toMatchObject({ status: 'True', reason: 'LastKnownGood' });
    expect(condition(degraded, 'Ready')?.message).toMatch(/^1 objects written before stay in force unchanged while /);
    expect(condition(degraded, 'EndpointsResolved')).toMatchObject({ status: 'False', reason: 'DiscoveryFailed' });
    expect(condition(degraded, 'Stalled')?.status).not.toBe('True');
    expect(degraded.status?.endpoints?.loginServer).toBe(`${HASHED}.azurecr.io`);
    expect((await admin.get(npRef(namespace, 'acr-access-steady')))?.metadata.resourceVersion).toBe(
      policy?.metadata.resourceVersion,
    );

    await admin.apply(acrAccess(namespace, 'late', byId(id)));
    const late = await waitReady(admin, namespace, 'late', 'False');
    expect(condition(late, 'Ready')?.reason).toBe('DiscoveryFailed');
    expect(condition(late, 'Reconciling')?.status).toBe('True');
    expect(await admin.get(npRef(namespace, 'acr-access-late'))).toBeUndefined();

    arm.fake.clearFaults();
    await eventually('recovered', async () => {
      const r = await getAcrAccess(admin, namespace, 'steady');
      return condition(r, 'Degraded')?.status === 'False';
    });
    await waitReady(admin, namespace, 'late');
  });

  test('--allowed-registries applies to the login server ARM reports', async ({ namespace, admin }) => {
    const { id } = registry(namespace);
    operator = await start(namespace, { allowedRegistries: ['contoso.azurecr.io'] });
    await admin.apply(acrAccess(namespace, 'sneaky', byId(id)));
    const r = await waitReady(admin, namespace, 'sneaky', 'False');
    expect(condition(r, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'RegistryNotAllowed',
      message: `registry ${HASHED}.azurecr.io is not in the operator's allowed registries (contoso.azurecr.io)`,
    });
    expect(await admin.get(npRef(namespace, 'acr-access-sneaky'))).toBeUndefined();
  });

  test('--service-tags arm:<location>: the feed comes from ARM, its string change number as a number', async ({
    namespace,
    admin,
  }) => {
    arm.fake.putServiceTags(SUBSCRIPTION, 'westeurope', serviceTagsBody(feed, SUBSCRIPTION, 377));
    operator = await start(namespace, { serviceTags: 'arm:westeurope' });
    await admin.apply(acrAccess(namespace, 'tags'));
    const r = await waitReady(admin, namespace, 'tags');
    expect(r.status?.addresses).toMatchObject({
      serviceTagsChangeNumber: 377,
      feedSource: `Azure Resource Manager serviceTags (subscription ${SUBSCRIPTION}, location westeurope)`,
    });
  });
});
