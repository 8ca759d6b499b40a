import { describe, expect, it } from 'vitest';
import { FeedManager } from '../controller/feeds.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { ArmServiceTagSource, type ServiceTagsAnswer } from './arm-source.js';
import { CombinedServiceTagSource, mergeFeeds } from './combined-source.js';
import { parseServiceTagsDocument, type ServiceTagFeed } from './servicetags.js';
import { EmbeddedSnapshotSource, type ServiceTagSource } from './sources.js';

type Tags = Record<string, [changeNumber: number, ...prefixes: string[]]>;

const feed = (changeNumber: number, tags: Tags, opts: { cloud?: string; published?: string; source?: string } = {}) =>
  parseServiceTagsDocument(
    {
      changeNumber,
      cloud: opts.cloud ?? 'Public',
      values: Object.entries(tags).map(([name, [cn, ...addressPrefixes]]) => ({
        name,
        properties: { changeNumber: cn, region: '', addressPrefixes },
      })),
    },
    opts.source ?? `feed ${changeNumber}`,
    opts.published,
  );

/** A source answering what `next` holds (a feed, or an error to throw), counting its calls. */
function source(first: ServiceTagFeed | Error): ServiceTagSource & { next: ServiceTagFeed | Error; calls: number } {
  const s = {
    description: 'test',
    next: first,
    calls: 0,
    load: async () => {
      s.calls++;
      await new Promise((r) => setTimeout(r, 5));
      if (s.next instanceof Error) throw s.next;
      return s.next;
    },
  };
  return s;
}

const prefixes = (f: ServiceTagFeed, tag: string) => f.tags.get(tag)?.addressPrefixes;

describe('mergeFeeds', () => {
  it('takes each tag from the feed with the highest per-tag change number, the first on a tie', () => {
    const file = feed(
      400,
      {
        'AzureContainerRegistry.EastUS': [7, '20.0.0.0/24'],
        'Storage.EastUS': [3, '20.1.0.0/24'],
        'Storage.WestUS': [5, '20.2.0.0/24'],
      },
      { published: '2026-11-16' },
    );
    const arm = feed(398, {
      'AzureContainerRegistry.EastUS': [8, '20.0.0.0/24', '20.0.1.0/24'],
      'Storage.EastUS': [2, '20.9.0.0/24'],
      'Storage.WestUS': [5, '20.8.0.0/24'],
      'AzureContainerRegistry.NewRegion': [1, '20.3.0.0/24'],
    });
    const { feed: merged, origins } = mergeFeeds([
      { name: 'file:/feeds/x.json', feed: file },
      { name: 'arm:eastus', feed: arm },
    ]);
    expect(prefixes(merged, 'AzureContainerRegistry.EastUS')).toEqual(['20.0.0.0/24', '20.0.1.0/24']);
    expect(prefixes(merged, 'Storage.EastUS')).toEqual(['20.1.0.0/24']);
    expect(prefixes(merged, 'Storage.WestUS')).toEqual(['20.2.0.0/24']);
    expect(prefixes(merged, 'AzureContainerRegistry.NewRegion')).toEqual(['20.3.0.0/24']);
    expect(Object.fromEntries(origins)).toEqual({
      'AzureContainerRegistry.EastUS': 'arm:eastus',
      'Storage.EastUS': 'file:/feeds/x.json',
      'Storage.WestUS': 'file:/feeds/x.json',
      'AzureContainerRegistry.NewRegion': 'arm:eastus',
    });
    expect(merged).toMatchObject({
      changeNumber: 400,
      cloud: 'Public',
      source: 'file:/feeds/x.json+arm:eastus',
      published: '2026-11-16',
    });

    // The other order: ties go to the first configured, the newest feed still gives changeNumber and published.
    const other = mergeFeeds([
      { name: 'arm:eastus', feed: arm },
      { name: 'file:/feeds/x.json', feed: file },
    ]);
    expect(prefixes(other.feed, 'Storage.WestUS')).toEqual(['20.8.0.0/24']);
    expect(other.origins.get('Storage.WestUS')).toBe('arm:eastus');
    expect(other.feed).toMatchObject({ changeNumber: 400, source: 'arm:eastus+file:/feeds/x.json' });
    expect(other.feed.published).toBe('2026-11-16');
  });

  it('takes published from the feed with the highest change number, none when it has none', () => {
    const old = feed(376, { A: [1, '20.0.0.0/24'] }, { published: '2025-11-03' });
    const arm = feed(380, { A: [1, '20.0.0.0/24'] });
    expect(
      mergeFeeds([
        { name: 'embedded', feed: old },
        { name: 'arm:eastus', feed: arm },
      ]).feed.published,
    ).toBe(undefined);
  });
});

describe('CombinedServiceTagSource', () => {
  const a = () => feed(10, { T: [2, '20.0.0.0/24'], U: [1, '20.1.0.0/24'] });
  const b = () => feed(12, { T: [1, '20.5.0.0/24'], U: [4, '20.6.0.0/24'] });

  it('reads every source at once, once per load, and merges them', async () => {
    const [sa, sb] = [source(a()), source(b())];
    const combined = new CombinedServiceTagSource([
      { name: 'file:a', source: sa },
      { name: 'configmap:ns/b', source: sb },
    ]);
    const started = Date.now();
    const [one, two] = await Promise.all([combined.load(), combined.load()]);
    expect(Date.now() - started).toBeLessThan(1000);
    // Two refreshes asked for at once share one read of each source.
    expect([sa.calls, sb.calls]).toEqual([1, 1]);
    expect(two).toBe(one);
    expect(prefixes(one, 'T')).toEqual(['20.0.0.0/24']);
    expect(prefixes(one, 'U')).toEqual(['20.6.0.0/24']);
    expect(one).toMatchObject({ changeNumber: 12, source: 'file:a+configmap:ns/b' });
    expect(combined.lastLoad?.origins).toEqual(
      new Map([
        ['T', 'file:a'],
        ['U', 'configmap:ns/b'],
      ]),
    );
    expect(combined.problem()).toBeUndefined();
    await combined.load();
    expect([sa.calls, sb.calls]).toEqual([2, 2]);
  });

  it('returns the same merged feed while every source returns the same feed (ARM unchanged)', async () => {
    const [fa, fb] = [a(), b()];
    const combined = new CombinedServiceTagSource([
      { name: 'arm:eastus', source: source(fa) },
      { name: 'embedded', source: source(fb) },
    ]);
    const first = await combined.load();
    expect(await combined.load()).toBe(first);
  });

  it('uses the sources that answered and reports the others; throws when none answered', async () => {
    const sb = source(new Error('service tags from configmap ns/b: the ConfigMap does not exist'));
    const combined = new CombinedServiceTagSource([
      { name: 'file:a', source: source(a()) },
      { name: 'configmap:ns/b', source: sb },
    ]);
    const partial = await combined.load();
    expect(partial).toMatchObject({ changeNumber: 10, source: 'file:a' });
    expect(prefixes(partial, 'U')).toEqual(['20.1.0.0/24']);
    expect(combined.problem()).toBe(
      'Service Tags source left out: configmap:ns/b: service tags from configmap ns/b: the ConfigMap does not exist',
    );
    expect(combined.lastLoad?.failures).toEqual([
      { name: 'configmap:ns/b', message: 'service tags from configmap ns/b: the ConfigMap does not exist' },
    ]);

    sb.next = b();
    expect(await combined.load()).toMatchObject({ changeNumber: 12, source: 'file:a+configmap:ns/b' });
    expect(combined.problem()).toBeUndefined();

    const all = new CombinedServiceTagSource([
      { name: 'file:a', source: source(new Error('service tags from file a: cannot be read (ENOENT)')) },
      { name: 'arm:eastus', source: source(new Error('service tags from Azure Resource Manager: 503')) },
    ]);
    await expect(all.load()).rejects.toThrow(
      'no Service Tags source could be read: service tags from file a: cannot be read (ENOENT); service tags from Azure Resource Manager: 503',
    );
    expect(all.problem()).toBeUndefined();
  });

  it("leaves out another cloud's feed; with no usable one, returns the first answer for FeedManager to refuse", async () => {
    const china = feed(20, { T: [9, '42.0.0.0/24'] }, { cloud: 'China', source: 'file china.json' });
    const combined = new CombinedServiceTagSource(
      [
        { name: 'file:china.json', source: source(china) },
        { name: 'file:a', source: source(a()) },
      ],
      { cloud: 'AzurePublicCloud' },
    );
    const used = await combined.load();
    expect(used).toMatchObject({ changeNumber: 10, source: 'file:a' });
    expect(prefixes(used, 'T')).toEqual(['20.0.0.0/24']);
    expect(combined.problem()).toBe(
      'Service Tags source left out: file:china.json: file china.json (changeNumber 20) is for cloud China, but the sources are configured for AzurePublicCloud (Public; --service-tags-cloud)',
    );

    // Only another cloud's feeds: FeedManager refuses the first as it would refuse that source alone.
    const wrong = new CombinedServiceTagSource(
      [
        { name: 'file:china.json', source: source(china) },
        { name: 'arm:chinaeast2', source: source(new Error('down')) },
      ],
      { cloud: 'AzurePublicCloud' },
    );
    const fm = new FeedManager({ source: wrong, maxShrink: 0.5, logger: silentLogger() });
    expect(await fm.refresh()).toBe(false);
    expect(fm.problem?.reason).toBe('FeedWrongCloud');

    // The sources' cloud is the one configured: China's feed is used when the sources are for China.
    const forChina = new CombinedServiceTagSource(
      [
        { name: 'file:china.json', source: source(china) },
        { name: 'embedded', source: new EmbeddedSnapshotSource('AzureChinaCloud') },
      ],
      { cloud: 'AzureChinaCloud' },
    );
    const merged = await forChina.load();
    expect(merged.cloud).toBe('China');
    expect(forChina.lastLoad?.origins.get('T')).toBe('file:china.json');
    expect(forChina.problem()).toBeUndefined();
  });

  it('leaves out a feed with a prefix out of bounds, so it cannot win a tag', async () => {
    const tampered = feed(99, { T: [99, '10.0.0.0/8'] }, { source: 'configmap ns/evil' });
    const combined = new CombinedServiceTagSource([
      { name: 'configmap:ns/evil', source: source(tampered) },
      { name: 'file:a', source: source(a()) },
    ]);
    const used = await combined.load();
    expect(prefixes(used, 'T')).toEqual(['20.0.0.0/24']);
    expect(combined.problem()).toMatch(
      /^Service Tags source left out: configmap:ns\/evil: configmap ns\/evil .*10\.0\.0\.0\/8/,
    );
  });

  it('logs where tags came from when that changes', async () => {
    const logs: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const logger = {
      info: (obj: Record<string, unknown>, msg: string) => logs.push({ level: 'info', obj, msg }),
      warn: (obj: Record<string, unknown>, msg: string) => logs.push({ level: 'warn', obj, msg }),
    } as unknown as Logger;
    const [sa, sb] = [source(a()), source(b())];
    const combined = new CombinedServiceTagSource(
      [
        { name: 'file:a', source: sa },
        { name: 'arm:eastus', source: sb },
      ],
      { logger },
    );
    await combined.load();
    expect(logs).toEqual([
      {
        level: 'info',
        obj: {
          source: 'file:a+arm:eastus',
          changeNumber: 12,
          tagsBySource: { 'file:a': 1, 'arm:eastus': 1 },
          relevantTags: {},
        },
        msg: 'service tags combined per tag from several sources',
      },
    ]);
    // Re-read, re-parsed, same merge: nothing logged.
    sa.next = a();
    await combined.load();
    expect(logs).toHaveLength(1);

    // The lagging source has a newer tag, the newest feed's change number stays: a new merge, logged.
    sa.next = feed(11, { T: [2, '20.0.0.0/24'], U: [5, '20.1.0.0/24'] });
    await combined.load();
    expect(logs.slice(1).map((l) => [l.level, l.msg])).toEqual([
      ['info', 'service tags combined per tag from several sources'],
    ]);

    sb.next = new Error('down');
    const seen = logs.length;
    await combined.load();
    expect(logs.slice(seen).map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'some Service Tags sources failed; the feed is combined from the others'],
      ['info', 'service tags combined per tag from several sources'],
    ]);
    // The same failure again is not logged again.
    await combined.load();
    expect(logs).toHaveLength(seen + 2);
  });

  it('refuses two sources of the same name and fewer than two sources', () => {
    expect(
      () =>
        new CombinedServiceTagSource([
          { name: 'embedded', source: source(a()) },
          { name: 'embedded', source: source(b()) },
        ]),
    ).toThrow('--service-tags embedded is given twice');
    expect(() => new CombinedServiceTagSource([{ name: 'embedded', source: source(a()) }])).toThrow(
      'at least two sources',
    );
  });

  it('with FeedManager: ARM read once per refresh; an unchanged change number accepts nothing', async () => {
    const answer = (changeNumber: string, tagChange: string, ...addressPrefixes: string[]): ServiceTagsAnswer => ({
      changeNumber,
      cloud: 'Public',
      values: [
        {
          name: 'AzureContainerRegistry.EastUS',
          properties: { changeNumber: tagChange, region: 'eastus', addressPrefixes },
        },
      ],
      nextLink: '',
    });
    const answers = [answer('5', '3', '20.7.0.0/24')];
    let calls = 0;
    const arm = new ArmServiceTagSource(
      {
        list: async () => {
          calls++;
          return answers[answers.length - 1]!;
        },
      },
      'eastus',
      'sub',
    );
    const file = feed(6, { 'AzureContainerRegistry.EastUS': [2, '20.0.0.0/24'], 'Storage.EastUS': [1, '20.1.0.0/24'] });
    const combined = new CombinedServiceTagSource([
      { name: 'arm:eastus', source: arm },
      { name: 'file:x', source: source(file) },
    ]);
    const fm = new FeedManager({ source: combined, maxShrink: 0.5, logger: silentLogger() });
    const changes: number[] = [];
    fm.on('change', (_cloud, _old, next) => changes.push(next.feed.changeNumber));
    await fm.start();
    const state = await fm.feedFor('AzurePublicCloud');
    expect(prefixes(state!.feed, 'AzureContainerRegistry.EastUS')).toEqual(['20.7.0.0/24']);
    expect(prefixes(state!.feed, 'Storage.EastUS')).toEqual(['20.1.0.0/24']);
    expect(state!.feed.source).toBe('arm:eastus+file:x');
    expect(await fm.refresh()).toBe(false);
    expect(await fm.refresh()).toBe(false);
    expect(calls).toBe(3);
    expect(changes).toEqual([6]);

    answers.push(answer('7', '4', '20.7.0.0/24', '20.7.1.0/24'));
    expect(await fm.refresh()).toBe(true);
    expect(prefixes((await fm.feedFor('AzurePublicCloud'))!.feed, 'AzureContainerRegistry.EastUS')).toEqual([
      '20.7.0.0/24',
      '20.7.1.0/24',
    ]);
    expect(changes).toEqual([6, 7]);
    expect(calls).toBe(4);
  });
});
