import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { Operator } from '../../src/controller/operator.js';
import { KubeApiError } from '../../src/kube/errors.js';
import { acrAccess, cidrsOf, condition, eventsFor, getAcrAccess, npRef, waitReady } from '../support/acraccess.js';
import { WRITE_VERBS, auditEvents, clientFor, eventually, test } from '../support/cluster.js';
import {
  deriveFeed,
  expectedCover,
  lastGoodFeed,
  putFeed,
  putGzippedFeed,
  realFeed,
  shrunkFeed,
  tagPrefixes,
  upstreamFeedFile,
  type FeedDoc,
} from '../support/feeds.js';
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
    const westReconciles = operator.manager.reconcileCounts.get(`AcrAccess/${namespace}/west`) ?? 0;

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
    expect(operator.manager.reconcileCounts.get(`AcrAccess/${namespace}/west`) ?? 0).toBe(westReconciles);
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
    // Named per tag (the first three, in feed order), then a count of the rest.
    expect(condition(shrunk as never, 'Degraded')?.message).toMatch(
      /: AzureContainerRegistry lost 1031 of its 1146 prefixes \(115 in the new feed\);.* and \d+ more tags: more than 50% of a tag gone; keeping the last good feed$/,
    );
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

const publicFile = upstreamFeedFile('ServiceTags_Public_20251103.json');
const chinaFile = upstreamFeedFile('ServiceTags_China_20260622.json');
const degradedFor = (admin: Parameters<typeof getAcrAccess>[0], namespace: string, reason: string) =>
  eventually(`Degraded=True ${reason}`, async () => {
    const r = await getAcrAccess(admin, namespace, 'contoso');
    return condition(r, 'Degraded')?.reason === reason && condition(r, 'Degraded')?.status === 'True' ? r : undefined;
  });
/** Every ipBlock of every NetworkPolicy the operator manages in the namespace. */
const managedCidrs = async (admin: Parameters<typeof getAcrAccess>[0], namespace: string) =>
  (await admin.list('networking.k8s.io/v1', 'NetworkPolicy', { namespace })).items.flatMap((np) => cidrsOf(np));
const policyWritesSince = async (namespace: string, since: string) =>
  (
    await auditEvents(
      (e) =>
        e.user.username === 'acr-access-operator' &&
        WRITE_VERBS.has(e.verb) &&
        e.objectRef?.resource === 'networkpolicies' &&
        e.objectRef.namespace === namespace,
    )
  ).filter((e) => e.requestReceivedTimestamp >= since);

describe('feeds are data from outside', () => {
  test('a widened feed (0.0.0.0/0, a private range) is refused: no policy ever allows it, it never becomes last good', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    await putFeed(admin, namespace, 'service-tags', JSON.stringify(base));
    operator = await startTestOperator(namespace, feedSource(namespace));
    await admin.apply(acrAccess(namespace, 'contoso'));
    await waitReady(admin, namespace, 'contoso');
    await operator.manager.idle();
    const since = new Date().toISOString();

    const widened = (changeNumber: number, prefix: string): FeedDoc =>
      deriveFeed(base, changeNumber, { add: { 'AzureContainerRegistry.EastUS': [prefix] } });
    await putFeed(admin, namespace, 'service-tags', JSON.stringify(widened(377, '0.0.0.0/0')));
    const refused = await degradedFor(admin, namespace, 'FeedOutOfBounds');
    expect(condition(refused as never, 'Degraded')?.message).toContain(
      'AzureContainerRegistry.EastUS has 0.0.0.0/0, wider than /8',
    );
    await putFeed(admin, namespace, 'service-tags', JSON.stringify(widened(378, '192.168.0.0/16')));
    await eventually('the private range named', async () =>
      condition((await getAcrAccess(admin, namespace, 'contoso')) as never, 'Degraded')?.message.includes(
        '192.168.0.0/16, overlaps 192.168.0.0/16, private-use (RFC 1918)',
      ),
    );

    // Restarted, the operator restores the last good feed (still 376) and refuses the ConfigMap's again.
    await operator.stop();
    operator = await startTestOperator(namespace, feedSource(namespace));
    await eventually('reconciled after the restart', async () =>
      (operator!.manager.reconcileCounts.get(`AcrAccess/${namespace}/contoso`) ?? 0) > 0 ? true : undefined,
    );
    await operator.manager.idle();
    const after = await getAcrAccess(admin, namespace, 'contoso');
    expect(condition(after as never, 'Degraded')).toMatchObject({ status: 'True', reason: 'FeedOutOfBounds' });
    expect(after?.status?.addresses?.serviceTagsChangeNumber).toBe(376);
    expect(await policyWritesSince(namespace, since)).toEqual([]);
    const cidrs = await managedCidrs(admin, namespace);
    expect(cidrs).toEqual(expectedCover(base, ...EASTUS));
    expect(cidrs).not.toContain('0.0.0.0/0');
    expect(cidrs).not.toContain('192.168.0.0/16');
    const stored = await lastGoodFeed(admin, namespace, 'AzurePublicCloud');
    expect(stored?.feed.changeNumber).toBe(376);
  }, 120_000);

  test.skipIf(!chinaFile)(
    'the China feed where the public one lives is refused, never persisted, and the public feed survives a restart',
    async ({ namespace, admin }) => {
      await bindOperatorNamespace(admin, namespace);
      const publicFeed = deriveFeed(base, 377, { add: { 'AzureContainerRegistry.EastUS': ['20.99.0.0/24'] } });
      await putFeed(admin, namespace, 'service-tags', JSON.stringify(publicFeed));
      operator = await startTestOperator(namespace, feedSource(namespace));
      await admin.apply(acrAccess(namespace, 'contoso'));
      await eventually('the public feed 377 in use', async () => {
        const r = await getAcrAccess(admin, namespace, 'contoso');
        return r?.status?.addresses?.serviceTagsChangeNumber === 377 ? r : undefined;
      });

      await putFeed(admin, namespace, 'service-tags', readFileSync(chinaFile!, 'utf8'));
      const refused = await degradedFor(admin, namespace, 'FeedWrongCloud');
      expect(condition(refused as never, 'Degraded')?.message).toContain(
        '(changeNumber 401) is for cloud China, but the source is configured for AzurePublicCloud',
      );
      expect((await lastGoodFeed(admin, namespace, 'AzurePublicCloud'))?.feed).toMatchObject({
        cloud: 'Public',
        changeNumber: 377,
      });
      expect(await lastGoodFeed(admin, namespace, 'AzureChinaCloud')).toBeUndefined();

      await operator.stop();
      operator = await startTestOperator(namespace, feedSource(namespace));
      await eventually('reconciled after the restart', async () =>
        (operator!.manager.reconcileCounts.get(`AcrAccess/${namespace}/contoso`) ?? 0) > 0 ? true : undefined,
      );
      await operator.manager.idle();
      const after = await getAcrAccess(admin, namespace, 'contoso');
      expect(after?.status?.addresses?.serviceTagsChangeNumber).toBe(377);
      expect(after?.status?.addresses?.retiring ?? []).toEqual([]);
      expect(condition(after as never, 'Degraded')).toMatchObject({ status: 'True', reason: 'FeedWrongCloud' });
      expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-contoso')))).toEqual(
        expectedCover(publicFeed, ...EASTUS),
      );
    },
    120_000,
  );

  test('a last good feed kept by an earlier version (one ConfigMap for all clouds) is restored only when trustworthy', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    const legacy = (doc: FeedDoc) =>
      admin.apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'acr-access-last-good-feed', namespace },
        data: { 'feed.json': JSON.stringify(doc), 'meta.json': '{}' },
      });
    // The feed source itself is missing, so only the persisted feed could give addresses.
    await legacy(deriveFeed(base, 377, { add: { 'Storage.EastUS': ['0.0.0.0/0'] } }));
    operator = await startTestOperator(namespace, feedSource(namespace));
    await admin.apply(acrAccess(namespace, 'contoso'));
    const refused = await waitReady(admin, namespace, 'contoso', 'False');
    expect(condition(refused as never, 'Ready')).toMatchObject({ reason: 'NoAddressData' });
    expect(await admin.get(npRef(namespace, 'acr-access-contoso'))).toBeUndefined();

    await operator.stop();
    await legacy(deriveFeed(base, 377, { add: { 'Storage.EastUS': ['20.98.0.0/24'] } }));
    operator = await startTestOperator(namespace, feedSource(namespace));
    const restored = await waitReady(admin, namespace, 'contoso');
    expect(restored.status?.addresses?.serviceTagsChangeNumber).toBe(377);
    expect(condition(restored as never, 'Degraded')).toMatchObject({ status: 'True', reason: 'FeedUnreadable' });
    expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-contoso')))).toContain('20.98.0.0/24');
  }, 120_000);

  test.skipIf(!publicFile)(
    'the weekly public file does not fit a ConfigMap, gzipped it does, and the operator reads it',
    async ({ namespace, admin }) => {
      await bindOperatorNamespace(admin, namespace);
      const plain = readFileSync(publicFile!);
      const tooBig = await putFeed(admin, namespace, 'service-tags', plain.toString('utf8')).catch((e: unknown) => e);
      expect(tooBig).toBeInstanceOf(KubeApiError);
      expect((tooBig as KubeApiError).code).toBe(413);

      // What `gzip -k` and `kubectl create configmap --from-file=ServiceTags.json.gz=…` produce.
      const gz = gzipSync(plain);
      await putGzippedFeed(admin, namespace, 'service-tags', gz);
      const started = Date.now();
      operator = await startTestOperator(namespace, feedSource(namespace));
      await admin.apply(acrAccess(namespace, 'contoso'));
      const ready = await waitReady(admin, namespace, 'contoso', 'True', 60_000);
      console.info(`public feed ${plain.length} B, gzipped ${gz.length} B: Ready in ${Date.now() - started} ms`);
      expect(condition(ready as never, 'Degraded')?.status).toBe('False');
      const full = JSON.parse(plain.toString('utf8')) as FeedDoc;
      expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-contoso')))).toEqual(expectedCover(full, ...EASTUS));

      // The last good copy: only the tags the operator reads, gzipped, a small fraction of the 1 MiB a ConfigMap holds.
      const stored = await admin.get({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace,
        name: 'acr-access-last-good-feed-public',
      });
      const storedBytes = Buffer.from((stored?.binaryData as Record<string, string>)['feed.json.gz']!, 'base64');
      console.info(`last good feed stored gzipped in ${storedBytes.length} B`);
      expect(storedBytes.length).toBeLessThan(100 * 1024);
      const restored = await lastGoodFeed(admin, namespace, 'AzurePublicCloud');
      expect(restored?.feed.source).toBe(`configmap ${namespace}/service-tags key ServiceTags.json`);
      expect(restored?.feed.tags.get('Storage.EastUS')?.addressPrefixes).toEqual(tagPrefixes(full, 'Storage.EastUS'));
    },
    120_000,
  );
});
