import { describe, expect, it } from 'vitest';
import type { ServiceTagSource } from '../addresses/sources.js';
import { parseServiceTags, type ServiceTagFeed } from '../addresses/servicetags.js';
import { silentLogger } from '../observability/logger.js';
import { FeedManager, type FeedState } from './feeds.js';

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
            addressPrefixes: Array.from({ length: prefixes }, (_, i) => `10.0.${i}.0/24`),
          },
        },
      ],
    }),
    `feed ${changeNumber}`,
  );

function source(): ServiceTagSource & { next: ServiceTagFeed | Error } {
  const s = {
    description: 'test',
    next: feed(1, 10) as ServiceTagFeed | Error,
    load: async () => {
      if (s.next instanceof Error) throw s.next;
      return s.next;
    },
  };
  return s;
}

describe('FeedManager', () => {
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
    expect(fm.problem?.message).toContain('4 registry and storage prefixes, down from 10');

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
});
