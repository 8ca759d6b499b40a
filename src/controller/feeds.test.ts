import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { requiredUpstreamFile } from '../../test/fixtures/upstream.js';
import type { ServiceTagSource } from '../addresses/sources.js';
import { parseServiceTags, relevantPrefixCount, type ServiceTagFeed } from '../addresses/servicetags.js';
import { silentLogger } from '../observability/logger.js';
import { FeedManager, type FeedState } from './feeds.js';

const upstream = (name: string) => requiredUpstreamFile(`servicetags/${name}`);
const publicFile = upstream('ServiceTags_Public_20251103.json');
const chinaFile = upstream('ServiceTags_China_20260622.json');
if (!publicFile || !chinaFile) console.warn('tests on the real feeds skipped: shared/upstream not found');

const feed = (changeNumber: number, prefixes: number, cloud = 'Public'): ServiceTagFeed =>
  parseServiceTags(
    JSON.stringify({
      changeNumber,
      cloud,
      values: [
        {
          name: 'AzureContainerRegistry.EastUS',
          properties: {
            region: 'eastus',
            addressPrefixes: Array.from({ length: prefixes }, (_, i) => `20.0.${i}.0/24`),
          },
        },
      ],
    }),
    `feed ${changeNumber}`,
  );

interface RealDoc {
  changeNumber: number;
  values: { name: string; properties: { addressPrefixes: string[] } }[];
}
/** A real weekly file, edited: a new change number and a function rewriting each tag's prefixes. */
const realFeed = (file: string, changeNumber?: number, edit = (_name: string, p: string[]) => p) => {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as RealDoc;
  doc.changeNumber = changeNumber ?? doc.changeNumber;
  for (const v of doc.values) v.properties.addressPrefixes = edit(v.name, v.properties.addressPrefixes);
  return parseServiceTags(JSON.stringify(doc), `real ${changeNumber ?? doc.changeNumber}`);
};

function source(first: ServiceTagFeed = feed(1, 10)): ServiceTagSource & { next: ServiceTagFeed | Error } {
  const s = {
    description: 'test',
    next: first as ServiceTagFeed | Error,
    load: async () => {
      if (s.next instanceof Error) throw s.next;
      return s.next;
    },
  };
  return s;
}

describe('FeedManager', () => {
  it('takes a newer tag under an unchanged change number, and reports a source left out without refusing', async () => {
    const tagged = (tagChange: number, ...prefixes: string[]) =>
      parseServiceTags(
        JSON.stringify({
          changeNumber: 7,
          cloud: 'Public',
          values: [
            {
              name: 'AzureContainerRegistry.EastUS',
              properties: { changeNumber: tagChange, region: 'eastus', addressPrefixes: prefixes },
            },
          ],
        }),
        'merged',
      );
    const src = Object.assign(source(tagged(1, '20.0.0.0/24')), { left: undefined as string | undefined });
    const fm = new FeedManager({
      source: { ...src, load: () => src.load(), problem: () => src.left },
      maxShrink: 0.5,
      logger: silentLogger(),
    });
    await fm.start();
    // The same feed-wide number, but a source that lagged now brings a newer tag: accepted.
    src.next = tagged(2, '20.0.0.0/24', '20.0.1.0/24');
    expect(await fm.refresh()).toBe(true);
    expect((await fm.feedFor('AzurePublicCloud'))?.feed.tags.get('AzureContainerRegistry.EastUS')?.changeNumber).toBe(
      2,
    );
    // Nothing newer: nothing taken.
    expect(await fm.refresh()).toBe(false);
    // One of several sources failed while the others answered: said (FeedPartial), not a refusal.
    src.left = 'arm:eastus: 500';
    expect(await fm.refresh()).toBe(false);
    expect(fm.problem).toEqual({ reason: 'FeedPartial', message: 'arm:eastus: 500' });
    expect(fm.refused).toBe(false);
    src.next = new Error('all down');
    await fm.refresh();
    expect(fm.refused).toBe(true);
  });

  it('accepts newer feeds and refuses unreadable, older and shrunk ones, keeping the last good', async () => {
    const src = source();
    const changes: [FeedState | undefined, FeedState][] = [];
    const fm = new FeedManager({ source: src, maxShrink: 0.5, logger: silentLogger() });
    fm.on('change', (_c, old, next) => changes.push([old, next]));
    await fm.start();
    expect((await fm.feedFor('AzurePublicCloud'))?.feed.changeNumber).toBe(1);

    src.next = new Error('cannot be read');
    expect(await fm.refresh()).toBe(false);
    expect(fm.problem?.reason).toBe('FeedUnreadable');

    src.next = feed(2, 4);
    expect(await fm.refresh()).toBe(false);
    expect(fm.problem).toMatchObject({ reason: 'FeedShrunk' });
    expect(fm.problem?.message).toBe(
      'feed 2 (changeNumber 2) against changeNumber 1: AzureContainerRegistry.EastUS lost 6 of its 10 prefixes (4 in the new feed): more than 50% of a tag gone; keeping the last good feed',
    );

    src.next = feed(0, 10);
    await fm.refresh();
    expect(fm.problem?.reason).toBe('FeedWentBack');

    src.next = feed(3, 6);
    expect(await fm.refresh()).toBe(true);
    expect(fm.problem).toBeUndefined();
    expect((await fm.feedFor('AzurePublicCloud'))?.feed.changeNumber).toBe(3);
    expect(changes.map(([o, n]) => [o?.feed.changeNumber, n.feed.changeNumber])).toEqual([
      [undefined, 1],
      [1, 3],
    ]);
    expect(await fm.refresh()).toBe(false);
  });

  it('serves other clouds from the embedded snapshot', async () => {
    const fm = new FeedManager({ source: source(), maxShrink: 0.5, logger: silentLogger() });
    await fm.start();
    expect((await fm.feedFor('AzureChinaCloud'))?.feed.cloud).toBe('China');
    expect(fm.servesCloud('AzureChinaCloud')).toBe(false);
    const none = new FeedManager({ maxShrink: 0.5, logger: silentLogger() });
    expect((await none.feedFor('AzurePublicCloud'))?.feed.changeNumber).toBe(376);
  });

  it('refuses a widened feed, even under the change number in use, and keeps serving the last good', async () => {
    const src = source();
    const fm = new FeedManager({ source: src, maxShrink: 0.5, logger: silentLogger() });
    let changes = 0;
    fm.on('change', () => changes++);
    await fm.start();
    const widened = (changeNumber: number, extra: string) =>
      parseServiceTags(
        JSON.stringify({
          changeNumber,
          cloud: 'Public',
          values: [{ name: 'AzureContainerRegistry.EastUS', properties: { addressPrefixes: ['20.0.0.0/24', extra] } }],
        }),
        `widened ${changeNumber}`,
      );
    for (const [changeNumber, extra, why] of [
      [2, '0.0.0.0/0', '0.0.0.0/0, wider than /8'],
      [1, '0.0.0.0/0', '0.0.0.0/0, wider than /8'],
      [3, '192.168.0.0/16', '192.168.0.0/16, overlaps 192.168.0.0/16, private-use (RFC 1918)'],
    ] as const) {
      src.next = widened(changeNumber, extra);
      expect(await fm.refresh()).toBe(false);
      expect(fm.problem?.reason).toBe('FeedOutOfBounds');
      expect(fm.problem?.message).toContain(`AzureContainerRegistry.EastUS has ${why}`);
      expect((await fm.feedFor('AzurePublicCloud'))?.feed.source).toBe('feed 1');
    }
    expect(changes).toBe(1);
  });

  it.skipIf(!publicFile || !chinaFile)(
    'refuses the China feed from a source configured for the public cloud, and accepts it where configured',
    async () => {
      const src = source(realFeed(publicFile!));
      const fm = new FeedManager({ source: src, maxShrink: 0.5, logger: silentLogger() });
      await fm.start();
      src.next = realFeed(chinaFile!);
      expect(await fm.refresh()).toBe(false);
      expect(fm.problem).toEqual({
        reason: 'FeedWrongCloud',
        message:
          'real 401 (changeNumber 401) is for cloud China, but the source is configured for AzurePublicCloud (Public; --service-tags-cloud); keeping the last good feed',
      });
      expect((await fm.feedFor('AzurePublicCloud'))?.feed.cloud).toBe('Public');
      // The China cloud is not the source's: its resources keep the embedded China snapshot, not this feed.
      expect((await fm.feedFor('AzureChinaCloud'))?.feed.source).toMatch(/^embedded snapshot/);

      const china = new FeedManager({
        source: source(realFeed(chinaFile!)),
        sourceCloud: 'AzureChinaCloud',
        maxShrink: 0.5,
        logger: silentLogger(),
      });
      await china.start();
      expect(china.problem).toBeUndefined();
      expect(china.servesCloud('AzureChinaCloud')).toBe(true);
      expect(china.servesCloud('AzurePublicCloud')).toBe(false);
      expect((await china.feedFor('AzureChinaCloud'))?.feed.changeNumber).toBe(401);
      expect((await china.feedFor('AzurePublicCloud'))?.feed.source).toMatch(/^embedded snapshot/);
    },
    30_000,
  );

  it.skipIf(!publicFile)(
    'refuses one region losing most of its storage ranges, which the whole-feed count would not notice',
    async () => {
      const src = source(realFeed(publicFile!));
      const fm = new FeedManager({ source: src, maxShrink: 0.5, logger: silentLogger() });
      await fm.start();
      const before = (await fm.feedFor('AzurePublicCloud'))!.feed;
      const keepTenth = (p: string[]) => p.slice(0, Math.ceil(p.length / 10));
      src.next = realFeed(publicFile!, 377, (name, p) => (name === 'Storage.EastUS' ? keepTenth(p) : p));
      // The old measure: relevant prefixes summed over all tags barely move (124 → 13 of 4,585).
      expect(relevantPrefixCount(src.next) / relevantPrefixCount(before)).toBeGreaterThan(0.97);
      expect(await fm.refresh()).toBe(false);
      expect(fm.problem?.reason).toBe('FeedShrunk');
      expect(fm.problem?.message).toContain('Storage.EastUS lost 111 of its 124 prefixes (13 in the new feed)');

      src.next = realFeed(publicFile!, 378, (name, p) => (name === 'MicrosoftContainerRegistry' ? [] : p));
      expect(await fm.refresh()).toBe(false);
      expect(fm.problem?.message).toContain('MicrosoftContainerRegistry lost');

      // Tags this project does not read may shrink or vanish.
      src.next = realFeed(publicFile!, 379, (name, p) => (name.startsWith('AzureCloud') ? [] : p));
      expect(await fm.refresh()).toBe(true);
      expect(fm.problem).toBeUndefined();
    },
    60_000,
  );
});
