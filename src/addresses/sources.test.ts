import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { requiredUpstreamFile } from '../../test/fixtures/upstream.js';
import { FileSource, MAX_FEED_TEXT_BYTES, feedFromConfigMap, feedText } from './sources.js';

const publicFile = requiredUpstreamFile('servicetags/ServiceTags_Public_20251103.json');
if (!publicFile) console.warn('tests on the real feed skipped: shared/upstream not found beside the repository');

/** The most a ConfigMap may hold (data and binaryData together), enforced by the API server. */
const CONFIGMAP_LIMIT = 1024 * 1024;
const small = JSON.stringify({
  changeNumber: 9,
  cloud: 'Public',
  values: [{ name: 'Storage', properties: { addressPrefixes: ['20.1.0.0/16'] } }],
});
const base64 = (b: Buffer) => b.toString('base64');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'feed-sources-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('gzip-compressed feeds', () => {
  it.skipIf(!publicFile)(
    'reads the real weekly public file gzipped in binaryData, where only the gzipped file fits',
    () => {
      const plain = readFileSync(publicFile!);
      const gz = gzipSync(plain); // what `gzip -k` writes (level 6)
      console.info(`public feed: ${plain.length} bytes, gzipped ${gz.length} bytes`);
      expect(plain.length).toBeGreaterThan(CONFIGMAP_LIMIT);
      expect(gz.length).toBeLessThan(CONFIGMAP_LIMIT);
      // kubectl's --from-file=ServiceTags.json.gz=<file> key; the default key falls back to it.
      const cm = { binaryData: { 'ServiceTags.json.gz': base64(gz) } };
      const feed = feedFromConfigMap(cm, 'ServiceTags.json', 'cm');
      expect(feed.changeNumber).toBe(376);
      expect(feed.tags.size).toBe(3041);
      expect(feed.tags.get('Storage.EastUS')?.addressPrefixes).toHaveLength(124);
      expect(feedFromConfigMap(cm, 'ServiceTags.json.gz', 'cm').tags.size).toBe(3041);
    },
    30_000,
  );

  it('detects gzip by its magic number under any key, and in a file', async () => {
    const gz = gzipSync(small);
    expect(feedFromConfigMap({ binaryData: { feed: base64(gz) } }, 'feed', 'cm').changeNumber).toBe(9);
    const file = path.join(tmp, 'ServiceTags_Public_20260105.json.gz');
    writeFileSync(file, gz);
    const fromFile = await new FileSource(file).load();
    expect(fromFile.changeNumber).toBe(9);
    expect(fromFile.published).toBe('2026-01-05');
  });

  it('prefers the configured key and says which keys it looked for', () => {
    const cm = { data: { 'ServiceTags.json': small }, binaryData: { 'ServiceTags.json.gz': base64(Buffer.from('x')) } };
    expect(feedFromConfigMap(cm, 'ServiceTags.json', 'cm').changeNumber).toBe(9);
    expect(() => feedFromConfigMap({ binaryData: {} }, 'ServiceTags.json', 'configmap a/b')).toThrow(
      'service tags from configmap a/b: the ConfigMap has no key ServiceTags.json (nor ServiceTags.json.gz)',
    );
  });

  it('refuses a .gz key that is not gzip, and corrupt gzip', () => {
    expect(() =>
      feedFromConfigMap({ binaryData: { 'f.gz': base64(Buffer.from(small)) } }, 'f.gz', 'configmap a/b'),
    ).toThrow('service tags from configmap a/b: key f.gz is not gzip data');
    const truncated = gzipSync(small).subarray(0, 20);
    expect(() => feedText(truncated, 'cm')).toThrow(/^service tags from cm: the gzip data is corrupt \(/);
  });

  it('refuses gzip that inflates past the bound: a 64 KiB "zip bomb" cannot make the operator hold 64 MiB', () => {
    const bomb = gzipSync(Buffer.alloc(MAX_FEED_TEXT_BYTES + 1, 0x20), { level: 9 });
    expect(bomb.length).toBeLessThan(100 * 1024);
    expect(() => feedText(bomb, 'cm')).toThrow('service tags from cm: the gzip data inflates to more than 64 MiB');
    expect(feedText(gzipSync(small), 'cm')).toBe(small);
  }, 30_000);
});
