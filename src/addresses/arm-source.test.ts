import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { requiredUpstreamFile } from '../../test/fixtures/upstream.js';
import { FeedManager } from '../controller/feeds.js';
import { silentLogger } from '../observability/logger.js';
import { ArmServiceTagSource, feedFromArm, type ServiceTagsAnswer, type ServiceTagsReader } from './arm-source.js';
import { FeedError } from './servicetags.js';

const armExample = requiredUpstreamFile('arm-examples/Microsoft.Network/ServiceTagsList.json');
if (!armExample) console.warn('tests on the ARM example skipped: shared/upstream not found beside the repository');

/** The REST spec's example answer; its nextLink is a placeholder URL, where ARM sends "" for a whole answer. */
const example = (): ServiceTagsAnswer => {
  const doc = JSON.parse(readFileSync(armExample!, 'utf8')) as { responses: { 200: { body: ServiceTagsAnswer } } };
  return { ...doc.responses[200].body, nextLink: '' };
};

const answer = (changeNumber: string, prefixes = ['20.38.0.0/24']): ServiceTagsAnswer => ({
  changeNumber,
  cloud: 'Public',
  values: [
    {
      name: 'AzureContainerRegistry.EastUS',
      id: 'AzureContainerRegistry.EastUS',
      properties: {
        changeNumber: '4',
        region: 'eastus',
        systemService: 'AzureContainerRegistry',
        addressPrefixes: prefixes,
      },
    },
  ],
  nextLink: '',
});

/** Answers from a list, one per call, and counts the calls. */
function reader(...answers: (ServiceTagsAnswer | Error)[]): ServiceTagsReader & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async list(location) {
      calls.push(location);
      const a = answers[Math.min(calls.length - 1, answers.length - 1)]!;
      if (a instanceof Error) throw a;
      return structuredClone(a);
    },
  };
}

describe('feedFromArm', () => {
  it.skipIf(!armExample)('reads the REST example: string change numbers become numbers', () => {
    const feed = feedFromArm(example(), 'arm');
    expect(feed.changeNumber).toBe(63);
    expect(feed.cloud).toBe('Public');
    expect(feed.tags.get('ApiManagement.AustraliaCentral')).toEqual({
      name: 'ApiManagement.AustraliaCentral',
      region: 'australiacentral',
      systemService: 'AzureApiManagement',
      changeNumber: 2,
      addressPrefixes: ['20.36.106.68/31', '20.36.107.176/28'],
    });
  });

  it('refuses a paged (partial) answer and a malformed one with the same checks as the weekly file', () => {
    expect(() => feedFromArm({ ...answer('63'), nextLink: 'https://management.azure.com/next' }, 'arm')).toThrow(
      /nextLink: the answer is paged/,
    );
    expect(() => feedFromArm(answer('sixty-three'), 'arm')).toThrow(/changeNumber: missing or not a whole number/);
    expect(() => feedFromArm(answer('63', ['20.38.0.0/33']), 'arm')).toThrow(FeedError);
    // An empty answer, as ARM has been seen to send ({"nextLink": ""}), is not an empty feed.
    expect(() => feedFromArm({ nextLink: '' }, 'arm')).toThrow(/changeNumber/);
  });
});

describe('ArmServiceTagSource', () => {
  it('makes one call per load, and returns the parsed feed again while the change number stays', async () => {
    const r = reader(answer('63'), answer('63'), answer('64', ['20.38.0.0/24', '20.38.1.0/24']));
    const source = new ArmServiceTagSource(r, 'westeurope', 'sub');
    const first = await source.load();
    expect(await source.load()).toBe(first);
    const next = await source.load();
    expect(next.changeNumber).toBe(64);
    expect(r.calls).toEqual(['westeurope', 'westeurope', 'westeurope']);
    expect(source.description).toBe('Azure Resource Manager serviceTags (subscription sub, location westeurope)');
  });

  it('is accepted by FeedManager; an unchanged change number is nothing new; a failed call keeps the feed', async () => {
    const r = reader(answer('63'), answer('63'), new Error('503 ServiceUnavailable: try later'), answer('64'));
    const feeds = new FeedManager({
      source: new ArmServiceTagSource(r, 'eastus', 'sub'),
      maxShrink: 0.5,
      logger: silentLogger(),
    });
    const changes: number[] = [];
    feeds.on('change', (_cloud, _old, next) => changes.push(next.feed.changeNumber));
    expect(await feeds.refresh()).toBe(true);
    expect((await feeds.feedFor('AzurePublicCloud'))?.feed.changeNumber).toBe(63);
    expect(await feeds.refresh()).toBe(false);
    expect(feeds.problem).toBeUndefined();
    expect(await feeds.refresh()).toBe(false);
    expect(feeds.problem).toEqual({
      reason: 'FeedUnreadable',
      message:
        'service tags from Azure Resource Manager serviceTags (subscription sub, location eastus): cannot be read (503 ServiceUnavailable: try later)',
    });
    expect((await feeds.feedFor('AzurePublicCloud'))?.feed.changeNumber).toBe(63);
    expect(await feeds.refresh()).toBe(true);
    expect(changes).toEqual([63, 64]);
    expect(r.calls).toHaveLength(4);
  });
});
