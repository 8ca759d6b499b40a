import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { Operator } from '../../src/controller/operator.js';
import { acrAccess, cidrsOf, condition, eventsFor, getAcrAccess, npRef, waitReady } from '../support/acraccess.js';
import { clientFor, eventually, test } from '../support/cluster.js';
import { deriveFeed, expectedCover, putFeed, realFeed, shrunkFeed, tagPrefixes } from '../support/feeds.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../support/operator.js';
import { TestDnsServer } from '../support/dns-server.js';

let operator: Operator | undefined;
afterEach(async () => {
  await operator?.stop();
  operator = undefined;
});
beforeAll(() => installOperatorPrerequisites(clientFor('admin')));

const base = realFeed();
const EASTUS = ['AzureContainerRegistry.EastUS', 'Storage.EastUS'];
const feedSource = (namespace: string) => ({ serviceTags: `configmap:${namespace}/service-tags` });

describe('feeds as shared, watched inputs', () => {
  test('a newer feed applies added prefixes at once and keeps removed ones retiring; only affected resources change', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    await putFeed(admin, namespace, 'service-tags', JSON.stringify(base));
    operator = await startTestOperator(namespace, { ...feedSource(namespace), graceMs: 3_600_000 });
    await admin.apply(acrAccess(namespace, 'east'));
    await admin.apply(
      acrAccess(namespace, 'west', { registry: { loginServer: 'contoso.azurecr.io', regions: ['westeurope'] } }),
    );
    await waitReady(admin, namespace, 'east');
    await waitReady(admin, namespace, 'west');
    await operator.manager.idle();
    const westPolicy = await admin.get(npRef(namespace, 'acr-access-west'));
    const westReconciles = operator.manager.reconcileCounts.get(`AcrAccess:${namespace}/west`) ?? 0;

    const removed = tagPrefixes(base, 'Storage.EastUS')[0]!;
    const next = deriveFeed(base, 377, {
      add: { 'AzureContainerRegistry.EastUS': ['20.99.0.0/24'] },
      remove: { 'Storage.EastUS': [removed] },
    });
    await putFeed(admin, namespace, 'service-tags', JSON.stringify(next));

    const east = await eventually('feed 377 applied to east', async () => {
      const r = await getAcrAccess(admin, namespace, 'east');
      return r?.status?.addresses?.serviceTagsChangeNumber === 377 ? r : undefined;
    });
    const np = await admin.get(npRef(namespace, 'acr-access-east'));
    expect(cidrsOf(np)).toContain('20.99.0.0/24');
    expect(cidrsOf(np)).toContain(removed);
    expect(east.status?.addresses?.retiring?.map((r) => r.prefix)).toEqual([removed]);
    const retiring = east.status!.addresses!.retiring![0]!;
    expect(Date.parse(retiring.until) - Date.parse(retiring.since)).toBe(3_600_000);
    const notes = (await eventsFor(admin, namespace, 'east')).map((e) => e.note);
    expect(notes.some((n) => n.startsWith('added 1 prefixes, retiring 1, removed 0, feed 376→377'))).toBe(true);

    // The west resource uses no tag that changed: it is not reconciled for the feed change, and nothing is written.
    await operator.manager.idle();
    expect(operator.manager.reconcileCounts.get(`AcrAccess:${namespace}/west`) ?? 0).toBe(westReconciles);
    expect((await admin.get(npRef(namespace, 'acr-access-west')))?.metadata.resourceVersion).toBe(
      westPolicy?.metadata.resourceVersion,
    );
  });

  test('a truncated feed and a 90 %-shrunk feed are refused: nothing removed, Degraded says why', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    const good = JSON.stringify(base);
    await putFeed(admin, namespace, 'service-tags', good);
    operator = await startTestOperator(namespace, feedSource(namespace));
    await admin.apply(acrAccess(namespace, 'contoso'));
    await waitReady(admin, namespace, 'contoso');
    const before = await admin.get(npRef(namespace, 'acr-access-contoso'));

    await putFeed(admin, namespace, 'service-tags', good.slice(0, good.length / 2));
    const truncated = await eventually('Degraded for the truncated feed', async () => {
      const r = await getAcrAccess(admin, namespace, 'contoso');
      return condition(r, 'Degraded')?.status === 'True' ? r : undefined;
    });
    expect(condition(truncated as never, 'Degraded')).toMatchObject({ reason: 'FeedUnreadable' });
    expect(condition(truncated as never, 'Degraded')?.message).toContain('not valid JSON');
    expect(condition(truncated as never, 'Ready')?.status).toBe('True');

    await putFeed(admin, namespace, 'service-tags', JSON.stringify(shrunkFeed(base, 378, 0.1)));
    const shrunk = await eventually('Degraded for the shrunk feed', async () => {
      const r = await getAcrAccess(admin, namespace, 'contoso');
      return condition(r, 'Degraded')?.reason === 'FeedShrunk' ? r : undefined;
    });
    expect(condition(shrunk as never, 'Degraded')?.message).toMatch(/more than 50% gone; keeping the last good feed/);
    const after = await admin.get(npRef(namespace, 'acr-access-contoso'));
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    expect(cidrsOf(after)).toEqual(expectedCover(base, ...EASTUS));

    // A good feed again clears the condition.
    await putFeed(
      admin,
      namespace,
      'service-tags',
      JSON.stringify(deriveFeed(base, 379, { add: { 'Storage.EastUS': ['20.98.0.0/24'] } })),
    );
    await eventually(
      'recovered',
      async () => condition((await getAcrAccess(admin, namespace, 'contoso')) as never, 'Degraded')?.status === 'False',
    );
  });

  test('with no data at all the first reconcile writes nothing and says why; data arriving fixes it', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    operator = await startTestOperator(namespace, feedSource(namespace));
    await admin.apply(acrAccess(namespace, 'early'));
    const r = await waitReady(admin, namespace, 'early', 'False');
    expect(condition(r as never, 'Ready')).toMatchObject({ reason: 'NoAddressData' });
    expect(condition(r as never, 'Ready')?.message).toContain('the ConfigMap does not exist');
    expect(await admin.get(npRef(namespace, 'acr-access-early'))).toBeUndefined();

    await putFeed(admin, namespace, 'service-tags', JSON.stringify(base));
    await waitReady(admin, namespace, 'early');
    expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-early')))).toEqual(expectedCover(base, ...EASTUS));
  });

  test('DNS answers are added, cached, and a failing resolver keeps the last answer', async ({ namespace, admin }) => {
    const dns = new TestDnsServer({
      'contoso.azurecr.io': { A: ['192.0.2.7'], ttl: 1 },
      'contoso.eastus.data.azurecr.io': { A: ['192.0.2.9'], ttl: 1 },
      'azurecr.io': { A: ['192.0.2.11'], ttl: 1 },
    });
    const server = await dns.start();
    try {
      operator = await startTestOperator(namespace, { dns: [server], dnsTtlFloorMs: 500, dnsTtlCeilingMs: 2000 });
      await admin.apply(acrAccess(namespace, 'withdns', { addressSources: ['ServiceTags', 'DNS'] }));
      await waitReady(admin, namespace, 'withdns');
      expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-withdns')))).toEqual(
        expect.arrayContaining(['192.0.2.7/32', '192.0.2.9/32', '192.0.2.11/32']),
      );

      // The private endpoint moves: the refreshed answer reaches the policy, the old address retires.
      dns.zone['contoso.azurecr.io'] = { A: ['192.0.2.70'], ttl: 1 };
      await eventually(
        'new DNS answer applied',
        async () => cidrsOf(await admin.get(npRef(namespace, 'acr-access-withdns'))).includes('192.0.2.70/32'),
        20_000,
      );
      expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-withdns')))).toContain('192.0.2.7/32');

      dns.failing = true;
      await eventually(
        'Degraded on DNS failure',
        async () =>
          condition((await getAcrAccess(admin, namespace, 'withdns')) as never, 'Degraded')?.reason === 'DNSFailed',
        20_000,
      );
      expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-withdns')))).toContain('192.0.2.70/32');
    } finally {
      await dns.stop();
    }
  });
});
