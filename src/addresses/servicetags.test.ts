import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { requiredUpstreamFile } from '../../test/fixtures/upstream.js';
import { FeedError, parseServiceTags, publishedFromFileName } from './servicetags.js';
import { EmbeddedSnapshotSource, FileSource, feedAgeDays, feedFromConfigMap } from './sources.js';

const publicFile = requiredUpstreamFile('servicetags/ServiceTags_Public_20251103.json');
const armExample = requiredUpstreamFile('arm-examples/Microsoft.Network/ServiceTagsList.json');
if (!publicFile || !armExample)
  console.warn('tests on the real feed skipped: shared/upstream not found beside the repository');

/** Reading and validating the 4 MB public feed takes well under a second idle; a loaded 2-core machine must pass too. */
const LONG = 60_000;

const minimal = (values: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ changeNumber: 7, cloud: 'Public', values, ...extra });
const tag = (name: string, region: string, prefixes: unknown[]) => ({
  name,
  id: name,
  properties: {
    changeNumber: 1,
    region,
    systemService: name.split('.')[0],
    addressPrefixes: prefixes,
    networkFeatures: null,
  },
});

describe('parseServiceTags', () => {
  it.skipIf(!publicFile)(
    'reads the real public weekly file',
    async () => {
      const feed = await new FileSource(publicFile!).load();
      expect(feed.changeNumber).toBe(376);
      expect(feed.cloud).toBe('Public');
      expect(feed.tags.size).toBe(3041);
      expect(feed.published).toBe('2025-11-03');
      expect(feed.tags.get('AzureContainerRegistry')?.addressPrefixes).toHaveLength(1146);
      expect(feed.tags.get('Storage.EastUS')?.addressPrefixes).toHaveLength(124);
    },
    LONG,
  );

  it.skipIf(!publicFile)(
    'accepts CRLF line endings and a byte-order mark, as some weeks are published',
    () => {
      const text = readFileSync(publicFile!, 'utf8');
      const crlf = '\ufeff' + text.replace(/\n/g, '\r\n');
      expect(parseServiceTags(crlf, 'crlf').tags.size).toBe(3041);
    },
    LONG,
  );

  it.skipIf(!armExample)(
    'reads the ARM serviceTags answer, whose changeNumber is a string',
    () => {
      const example = JSON.parse(readFileSync(armExample!, 'utf8')) as { responses: { 200: { body: unknown } } };
      const feed = parseServiceTags(JSON.stringify(example.responses[200].body), 'arm example');
      expect(typeof feed.changeNumber).toBe('number');
      expect(feed.tags.size).toBeGreaterThan(0);
    },
    LONG,
  );

  it.each([
    ['not JSON', '{"changeNumber": 1,', 'not valid JSON'],
    ['an array', '[]', 'not a JSON object'],
    ['no changeNumber', JSON.stringify({ cloud: 'Public', values: [] }), 'changeNumber: missing or not a whole number'],
    ['negative changeNumber', minimal([], { changeNumber: -1 }), 'changeNumber: missing'],
    ['no values', JSON.stringify({ changeNumber: 1, cloud: 'Public' }), 'values: missing or not a list'],
    ['a value without name', minimal([{ properties: {} }]), 'values[0].name: missing'],
    [
      'a bad prefix',
      minimal([tag('Storage.EastUS', 'eastus', ['20.1.2.0/24', '20.1.300.0/24'])]),
      'values[0] (Storage.EastUS).properties.addressPrefixes[1]: "20.1.300.0/24" is not an IPv4 or IPv6 prefix',
    ],
    ['a non-string prefix', minimal([tag('Storage', '', [42])]), 'addressPrefixes[0]: 42 is not'],
    [
      'prefixes missing',
      minimal([{ name: 'X', properties: { region: '' } }]),
      'values[0] (X).properties.addressPrefixes: missing',
    ],
    ['a duplicate tag', minimal([tag('X', '', []), tag('X', '', [])]), 'values[1] (X): the tag name appears twice'],
  ])('rejects %s with a precise error', (_what, text, message) => {
    expect(() => parseServiceTags(text, 'test')).toThrow(FeedError);
    expect(() => parseServiceTags(text, 'test')).toThrow(message);
  });

  it('names the file date', () => {
    expect(publishedFromFileName('ServiceTags_China_20260622.json')).toBe('2026-06-22');
    expect(publishedFromFileName('feed.json')).toBeUndefined();
  });
});

describe('sources', () => {
  it(
    'the embedded snapshots parse and keep only the tags this project uses',
    async () => {
      for (const cloud of ['AzurePublicCloud', 'AzureChinaCloud', 'AzureUSGovernment'] as const) {
        const feed = await new EmbeddedSnapshotSource(cloud).load();
        expect(feed.published).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        expect(feed.tags.has('AzureContainerRegistry')).toBe(true);
        expect(feed.tags.has('Storage')).toBe(true);
        for (const name of feed.tags.keys()) {
          expect(name).toMatch(
            /^(AzureContainerRegistry|Storage|MicrosoftContainerRegistry)(\..+)?$|^AzureFrontDoor\.FirstParty$/,
          );
        }
      }
      const pub = await new EmbeddedSnapshotSource('AzurePublicCloud').load();
      expect(pub.changeNumber).toBe(376);
      expect(pub.tags.get('AzureContainerRegistry.EastUS')?.addressPrefixes).toHaveLength(22);
      expect(feedAgeDays(pub, new Date('2025-12-10T12:00:00Z'))).toBe(37);
    },
    LONG,
  );

  it.skipIf(!publicFile)(
    'the public snapshot is exactly the shared file, trimmed',
    async () => {
      const [full, snap] = await Promise.all([new FileSource(publicFile!).load(), new EmbeddedSnapshotSource().load()]);
      for (const [name, t] of snap.tags) expect(t.addressPrefixes, name).toEqual(full.tags.get(name)?.addressPrefixes);
    },
    LONG,
  );

  it('reads a ConfigMap from data or binaryData and says which key is missing', () => {
    const text = minimal([tag('Storage', '', ['20.1.0.0/16'])]);
    expect(feedFromConfigMap({ data: { 'ServiceTags.json': text } }, 'ServiceTags.json', 'cm').changeNumber).toBe(7);
    const binary = { binaryData: { f: Buffer.from(text).toString('base64') } };
    expect(feedFromConfigMap(binary, 'f', 'cm').tags.size).toBe(1);
    expect(() => feedFromConfigMap({ data: {} }, 'ServiceTags.json', 'configmap x/y')).toThrow(
      'service tags from configmap x/y: the ConfigMap has no key ServiceTags.json',
    );
  });
});
