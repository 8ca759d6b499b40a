// Registry discovery and Service Tags through the real SDK clients and the real @azure/identity (workload identity:
// federated token file → token endpoint → bearer token) against the fake ARM over HTTPS.
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { NetworkManagementClient } from '@azure/arm-network';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedManager } from '../../src/controller/feeds.js';
import { connectAzure } from '../../src/azure/connect.js';
import { createCredential } from '../../src/azure/credentials.js';
import { DiscoveryError } from '../../src/azure/errors.js';
import { CLOUDS } from '../../src/endpoints/clouds.js';
import { EndpointError, SpecEndpointResolver, allHosts } from '../../src/endpoints/endpoints.js';
import { resolutionFailure } from '../../src/intent/verdict.js';
import { silentLogger } from '../../src/observability/logger.js';
import { realFeed } from '../support/feeds.js';
import {
  PINNED_API_VERSIONS,
  SUBSCRIPTION,
  serviceTagsBody,
  startFakeArm,
  type FakeArmHarness,
  type FakeRegistry,
} from '../support/arm/index.js';

const TIMEOUT = 60_000;
const noMcr = { includeMicrosoftContainerRegistry: false };
const HASHED = 'contoso-e7ggejfuhzhgedc8';

/** A geo-replicated Premium registry with a DNL (hashed) login server and dedicated data endpoints on. */
const contoso: FakeRegistry = {
  subscriptionId: SUBSCRIPTION,
  resourceGroup: 'rg-acr',
  name: 'contoso',
  location: 'eastus',
  loginServer: `${HASHED}.azurecr.io`,
  dataEndpointEnabled: true,
  dataEndpointHostNames: [`${HASHED}.eastus.data.azurecr.io`, `${HASHED}.westeurope.data.azurecr.io`],
  replications: ['eastus', 'westeurope'],
};

let arm: FakeArmHarness;
beforeAll(async () => {
  arm = await startFakeArm();
}, TIMEOUT);
afterAll(() => arm?.stop());

const resolverFor = (h: FakeArmHarness, refreshIntervalMs = 60_000) =>
  connectAzure(h.settings()).endpointResolver({ fallback: new SpecEndpointResolver(), refreshIntervalMs });

describe('registry discovery through the SDK and identity', () => {
  it(
    'reads a geo-replicated registry: the hashed login server, every region and data endpoint exactly as ARM lists them',
    async () => {
      const id = arm.fake.putRegistry(contoso);
      const before = arm.fake.requests.length;
      const endpoints = await resolverFor(arm).resolve({ resourceId: id }, noMcr);
      expect(endpoints.loginServer).toBe(`${HASHED}.azurecr.io`);
      expect(endpoints.regions).toEqual(['eastus', 'westeurope']);
      expect(allHosts(endpoints)).toEqual([
        'azurecr.io',
        `${HASHED}.azurecr.io`,
        `${HASHED}.eastus.data.azurecr.io`,
        `${HASHED}.westeurope.data.azurecr.io`,
      ]);
      // Nothing derived from the name: contoso.azurecr.io would be another registry, or none.
      expect(allHosts(endpoints).some((h) => h.startsWith('contoso.'))).toBe(false);
      const seen = arm.fake.requests.slice(before);
      const armCalls = seen.filter((r) => r.path.startsWith('/subscriptions/'));
      expect(armCalls.map((r) => [r.path.split('/').pop(), r.apiVersion, r.status])).toEqual([
        ['contoso', PINNED_API_VERSIONS.containerRegistry, 200],
        ['replications', PINNED_API_VERSIONS.containerRegistry, 200],
      ]);
      // The real identity asked the authority for the cloud's ARM scope (the fake refuses any other).
      expect(arm.fake.tokenScopes.at(-1)).toBe('https://management.azure.com/.default');
    },
    TIMEOUT,
  );

  it(
    'reads a Standard registry with one GET (no geo-replication), and allows storage when data endpoints are off',
    async () => {
      const id = arm.fake.putRegistry({
        ...contoso,
        name: 'fabrikam',
        sku: 'Standard',
        loginServer: 'fabrikam.azurecr.io',
        dataEndpointEnabled: false,
        replications: [],
      });
      const before = arm.fake.count(/fabrikam/);
      const endpoints = await resolverFor(arm).resolve({ resourceId: id }, noMcr);
      expect(endpoints.regions).toEqual(['eastus']);
      expect(endpoints.storageHosts).toEqual(['*.blob.core.windows.net']);
      expect(endpoints.dataEndpoints).toEqual([]);
      expect(arm.fake.count(/fabrikam/) - before).toBe(1);
    },
    TIMEOUT,
  );

  it(
    'shares one read per registry per refresh among concurrent resolves, even while ARM is slow',
    async () => {
      const id = arm.fake.putRegistry({ ...contoso, name: 'slowreg' });
      arm.fake.inject({ path: /slowreg$/, delayMs: 1500 });
      const resolver = resolverFor(arm);
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 10 }, () => resolver.resolve({ resourceId: id }, noMcr)));
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(new Set(results.map((e) => e.loginServer)).size).toBe(1);
      expect(arm.fake.count(/slowreg$/)).toBe(1);
    },
    TIMEOUT,
  );

  it(
    '429 with Retry-After: the SDK waits as told, retries, and discovery succeeds',
    async () => {
      const id = arm.fake.putRegistry({ ...contoso, name: 'throttled' });
      arm.fake.inject({ path: /throttled$/, status: 429, retryAfterSeconds: 2 });
      const started = Date.now();
      const endpoints = await resolverFor(arm).resolve({ resourceId: id }, noMcr);
      const elapsed = Date.now() - started;
      expect(endpoints.loginServer).toBe(`${HASHED}.azurecr.io`);
      expect(arm.fake.count(/throttled$/, 429)).toBe(1);
      expect(arm.fake.count(/throttled$/, 200)).toBe(1);
      // Retry-After: 2 is honoured (our exponential base is 20 ms), and not stretched far past it.
      expect(elapsed).toBeGreaterThanOrEqual(1900);
      expect(elapsed).toBeLessThan(15_000);
    },
    TIMEOUT,
  );

  it(
    'a lasting 500 ends in a DiscoveryError after the SDK retries: an outage, not a spec problem; 404 is one',
    async () => {
      const id = arm.fake.putRegistry({ ...contoso, name: 'broken' });
      arm.fake.inject({ path: /broken$/, status: 500, times: 100 });
      const err = await resolverFor(arm)
        .resolve({ resourceId: id }, noMcr)
        .catch((e: unknown) => e);
      arm.fake.clearFaults();
      expect(err).toBeInstanceOf(DiscoveryError);
      expect((err as DiscoveryError).status).toBe(500);
      expect((err as Error).message).toMatch(
        /^Azure Resource Manager could not be read for registry broken: 500 InternalServerError/,
      );
      // maxRetries: 2 in the harness settings: three attempts in all.
      expect(arm.fake.count(/broken$/, 500)).toBe(3);
      expect(resolutionFailure(err)).toMatchObject({ reason: 'DiscoveryFailed', stalled: false, outage: true });

      const missing = id.replace('/broken', '/nosuchregistry');
      const notFound = await resolverFor(arm)
        .resolve({ resourceId: missing }, noMcr)
        .catch((e: unknown) => e);
      expect(notFound).toBeInstanceOf(EndpointError);
      expect((notFound as Error).message).toContain('404 ResourceNotFound');
      expect(resolutionFailure(notFound).stalled).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'a request without a token, or with another api-version than the pinned SDK sends, is refused as ARM does',
    async () => {
      const id = arm.fake.putRegistry({ ...contoso, name: 'strict' });
      const anonymous = await fetch(`${arm.fake.url}${id}?api-version=${PINNED_API_VERSIONS.containerRegistry}`);
      expect(anonymous.status).toBe(401);
      expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('InvalidAuthenticationToken');
      const settings = arm.settings();
      const { credential } = createCredential(CLOUDS.AzurePublicCloud, settings);
      const old = new ContainerRegistryManagementClient(credential, SUBSCRIPTION, {
        endpoint: arm.fake.url,
        credentials: { scopes: [CLOUDS.AzurePublicCloud.armScope] },
        apiVersion: '2023-07-01',
      });
      await expect(old.registries.get('rg-acr', 'strict')).rejects.toMatchObject({
        statusCode: 400,
        code: 'NoRegisteredProviderFound',
      });
    },
    TIMEOUT,
  );
});

describe('sovereign clouds', () => {
  it(
    "every client asks for the cloud's token scope; the SDK's default scope is refused there",
    async () => {
      const china = await startFakeArm('AzureChinaCloud');
      try {
        const azure = connectAzure(china.settings());
        const id = china.fake.putRegistry({
          ...contoso,
          location: 'chinaeast2',
          loginServer: 'contoso.azurecr.cn',
          dataEndpointEnabled: false,
          replications: ['chinaeast2', 'chinanorth3'],
        });
        const resolver = azure.endpointResolver({ fallback: new SpecEndpointResolver(), refreshIntervalMs: 60_000 });
        const endpoints = await resolver.resolve({ resourceId: id }, noMcr);
        expect(endpoints.storageHosts).toEqual(['*.blob.core.chinacloudapi.cn']);
        expect(endpoints.regions).toEqual(['chinaeast2', 'chinanorth3']);
        const cluster = await azure.clients.containerService(SUBSCRIPTION).managedClusters.get('rg1', 'aks1');
        expect(cluster.name).toBe('aks1');
        china.fake.putServiceTags(SUBSCRIPTION, 'chinaeast2', { changeNumber: '1', cloud: 'China', values: [] });
        expect((await azure.clients.network(SUBSCRIPTION).serviceTags.list('chinaeast2')).changeNumber).toBe('1');
        expect(new Set(china.fake.tokenScopes)).toEqual(new Set(['https://management.chinacloudapi.cn/.default']));
        expect(china.fake.count(/managedClusters\/aks1$/i, 200)).toBe(1);

        // The same SDK left to its default asks for the public scope, which China's Entra refuses.
        const { credential } = createCredential(CLOUDS.AzureChinaCloud, china.settings());
        const naive = new NetworkManagementClient(credential, SUBSCRIPTION, { endpoint: china.fake.url });
        await expect(naive.serviceTags.list('chinaeast2')).rejects.toThrow(/AADSTS500011/);
      } finally {
        await china.stop();
      }
    },
    TIMEOUT,
  );
});

describe('Service Tags from ARM', () => {
  it(
    'one serviceTags call per refresh; the string change number is accepted as a number; unchanged is nothing new',
    async () => {
      const feed = realFeed();
      arm.fake.putServiceTags(SUBSCRIPTION, 'westeurope', serviceTagsBody(feed, SUBSCRIPTION));
      const source = connectAzure(arm.settings()).serviceTagSource('westeurope');
      const feeds = new FeedManager({ source, maxShrink: 0.5, logger: silentLogger() });
      const calls = () => arm.fake.count(/locations\/westeurope\/serviceTags$/i, 200);
      expect(await feeds.refresh()).toBe(true);
      expect(calls()).toBe(1);
      const state = await feeds.feedFor('AzurePublicCloud');
      expect(state?.feed.changeNumber).toBe(feed.changeNumber);
      expect(state?.feed.tags.get('AzureContainerRegistry.EastUS')?.addressPrefixes).toEqual(
        feed.values.find((v) => v.name === 'AzureContainerRegistry.EastUS')?.properties.addressPrefixes,
      );
      expect(await feeds.refresh()).toBe(false);
      expect(feeds.problem).toBeUndefined();
      expect(calls()).toBe(2);
      expect(arm.fake.requests.find((r) => /serviceTags$/i.test(r.path))?.apiVersion).toBe(PINNED_API_VERSIONS.network);

      arm.fake.putServiceTags(SUBSCRIPTION, 'westeurope', serviceTagsBody(feed, SUBSCRIPTION, feed.changeNumber + 1));
      expect(await feeds.refresh()).toBe(true);
      expect((await feeds.feedFor('AzurePublicCloud'))?.feed.changeNumber).toBe(feed.changeNumber + 1);
    },
    TIMEOUT,
  );
});
