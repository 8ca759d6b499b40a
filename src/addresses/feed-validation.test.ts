import { describe, expect, it } from 'vitest';
import { requiredUpstreamFile } from '../../test/fixtures/upstream.js';
import {
  FORBIDDEN_RANGES,
  describeShrink,
  feedBoundsProblem,
  outOfBoundsPrefixes,
  shrunkTags,
} from './feed-validation.js';
import { parseServiceTags, type ServiceTagFeed } from './servicetags.js';
import { FileSource } from './sources.js';

const REAL_FEEDS = [
  'ServiceTags_Public_20251103.json',
  'ServiceTags_China_20260622.json',
  'ServiceTags_AzureGovernment_20260622.json',
].map((name) => ({ name, file: requiredUpstreamFile(`servicetags/${name}`) }));
const missing = REAL_FEEDS.filter((f) => !f.file);
if (missing.length) console.warn('tests on the real feeds skipped: shared/upstream not found beside the repository');

const feedOf = (tags: Record<string, string[]>, changeNumber = 7): ServiceTagFeed =>
  parseServiceTags(
    JSON.stringify({
      changeNumber,
      cloud: 'Public',
      values: Object.entries(tags).map(([name, addressPrefixes]) => ({ name, properties: { addressPrefixes } })),
    }),
    `feed ${changeNumber}`,
  );

describe('feed bounds', () => {
  it.skipIf(missing.length > 0)(
    'accepts every prefix of the three real feeds (public, China, US Government)',
    async () => {
      for (const { name, file } of REAL_FEEDS) {
        const feed = await new FileSource(file!).load();
        const started = performance.now();
        const found = outOfBoundsPrefixes(feed);
        const ms = performance.now() - started;
        expect(found, name).toEqual([]);
        expect(feedBoundsProblem(feed), name).toBeUndefined();
        console.info(`${name}: ${feed.tags.size} tags checked in ${ms.toFixed(1)} ms`);
      }
    },
    60_000,
  );

  it('refuses a prefix wider than /8 (IPv4) or /16 (IPv6), accepts the bound itself', () => {
    const found = outOfBoundsPrefixes(
      feedOf({
        'AzureContainerRegistry.EastUS': ['20.1.0.0/16', '0.0.0.0/0', '20.0.0.0/7', '20.0.0.0/8'],
        'Storage.EastUS': ['::/0', '2603::/15', '2603::/16'],
      }),
    );
    expect(found).toEqual([
      { tag: 'AzureContainerRegistry.EastUS', prefix: '0.0.0.0/0', problem: 'wider than /8' },
      { tag: 'AzureContainerRegistry.EastUS', prefix: '20.0.0.0/7', problem: 'wider than /8' },
      { tag: 'Storage.EastUS', prefix: '::/0', problem: 'wider than /16' },
      { tag: 'Storage.EastUS', prefix: '2603::/15', problem: 'wider than /16' },
    ]);
  });

  it('refuses a prefix inside, equal to, or containing each special-purpose range', () => {
    for (const { prefix } of FORBIDDEN_RANGES) {
      const [address, length] = prefix.split('/') as [string, string];
      const host = address.includes(':') ? `${address}/128` : `${address}/32`;
      for (const p of [host, prefix]) {
        const found = outOfBoundsPrefixes(feedOf({ Storage: [p] }));
        // A range wider than the width bound (::/3, 240.0.0.0/4) is refused for its width before its meaning.
        const wide = Number(length) < (address.includes(':') ? 16 : 8);
        expect(found[0]?.problem, p).toEqual(
          wide && p === prefix ? `wider than /${address.includes(':') ? 16 : 8}` : expect.stringContaining(prefix),
        );
      }
    }
    // Containing: a /8 that holds 192.0.2.0/24 documentation space.
    expect(outOfBoundsPrefixes(feedOf({ Storage: ['192.0.0.0/8'] }))[0]?.problem).toMatch(/^overlaps 192\.0\.0\.0\/24/);
  });

  it('accepts global neighbours of the special-purpose ranges', () => {
    const neighbours = [
      '11.0.0.0/8',
      '9.255.255.255/32',
      '100.128.0.0/16',
      '100.63.255.0/24',
      '172.32.0.0/16',
      '172.15.255.0/24',
      '192.0.1.0/24',
      '192.169.0.0/16',
      '198.20.0.0/16',
      '223.255.255.0/24',
      '2001:200::/23',
      '2001:4898::/32',
      '2003::/16',
      '2a01:111::/32',
      '3ffe::/16',
    ];
    expect(outOfBoundsPrefixes(feedOf({ Storage: neighbours }))).toEqual([]);
  });

  it('names the tag, the prefix and the rule, and counts the rest', () => {
    const problem = feedBoundsProblem(
      feedOf({ 'AzureContainerRegistry.EastUS': ['0.0.0.0/0', '10.1.0.0/16', 'fe80::/64', '224.0.0.1/32'] }, 377),
    );
    expect(problem).toBe(
      'feed 377 (changeNumber 377) is not an Azure service feed: AzureContainerRegistry.EastUS has 0.0.0.0/0, wider than /8; ' +
        'AzureContainerRegistry.EastUS has 10.1.0.0/16, overlaps 10.0.0.0/8, private-use (RFC 1918); ' +
        'AzureContainerRegistry.EastUS has fe80::/64, overlaps 8000::/1, outside IPv6 global unicast 2000::/3 (RFC 4291); and 1 more',
    );
  });
});

describe('per-tag shrink', () => {
  const quarter = ['20.1.0.0/24', '20.1.1.0/24', '20.1.2.0/24', '20.1.3.0/24'];

  it('counts a prefix as lost only when the new tag no longer covers it', () => {
    const before = feedOf({ 'Storage.EastUS': quarter });
    // Merged into one /22: three fewer prefixes, no address lost.
    expect(shrunkTags(before, feedOf({ 'Storage.EastUS': ['20.1.0.0/22'] }), 0.5)).toEqual([]);
    // Same count, other addresses: every prefix lost.
    const moved = feedOf({ 'Storage.EastUS': ['20.2.0.0/24', '20.2.1.0/24', '20.2.2.0/24', '20.2.3.0/24'] });
    expect(shrunkTags(before, moved, 0.5)).toEqual([{ tag: 'Storage.EastUS', before: 4, lost: 4, after: 4 }]);
  });

  it('refuses more than the fraction, not exactly it; a gone tag is all lost; irrelevant tags are ignored', () => {
    const before = feedOf({ 'Storage.EastUS': quarter, 'AzureCloud.eastus': quarter, AzureContainerRegistry: quarter });
    const after = feedOf({ 'Storage.EastUS': quarter.slice(0, 2), 'AzureCloud.eastus': [] });
    const shrunk = shrunkTags(before, after, 0.5);
    expect(shrunk).toEqual([{ tag: 'AzureContainerRegistry', before: 4, lost: 4, after: undefined }]);
    expect(describeShrink(shrunk[0]!)).toBe('AzureContainerRegistry is gone (had 4 prefixes)');
    expect(shrunkTags(before, after, 0.6)).toHaveLength(1);
    expect(
      shrunkTags(before, feedOf({ 'Storage.EastUS': quarter.slice(0, 1), AzureContainerRegistry: quarter }), 0.5),
    ).toMatchObject([{ tag: 'Storage.EastUS', lost: 3 }]);
  });
});
