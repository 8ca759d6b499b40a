import { readFileSync } from 'node:fs';
import { coverStrings } from '../../src/addresses/cidr.js';
import { LastGoodFeedStore, type FeedState } from '../../src/controller/feeds.js';
import type { CloudName } from '../../src/endpoints/clouds.js';
import type { KubeClient } from '../../src/kube/client.js';
import { requiredUpstreamFile } from '../fixtures/upstream.js';

export interface FeedDoc {
  changeNumber: number;
  cloud: string;
  values: {
    name: string;
    id: string;
    properties: { changeNumber: number; region: string; addressPrefixes: string[]; [k: string]: unknown };
  }[];
}

/** The real public feed as shipped in the embedded snapshot (ServiceTags_Public_20251103, changeNumber 376). */
export function realFeed(): FeedDoc {
  return JSON.parse(readFileSync('data/servicetags/public.json', 'utf8')) as FeedDoc;
}

/** A newer feed derived from `base`: prefixes added to and removed from named tags, change numbers bumped. */
export function deriveFeed(
  base: FeedDoc,
  changeNumber: number,
  edits: { add?: Record<string, string[]>; remove?: Record<string, string[]> },
): FeedDoc {
  const doc = structuredClone(base);
  doc.changeNumber = changeNumber;
  for (const v of doc.values) {
    const add = edits.add?.[v.name] ?? [];
    const remove = new Set(edits.remove?.[v.name] ?? []);
    if (add.length || remove.size) {
      v.properties.addressPrefixes = [...v.properties.addressPrefixes.filter((p) => !remove.has(p)), ...add];
      v.properties.changeNumber += 1;
    }
  }
  return doc;
}

/** Keeps `keep` (0..1) of every tag's prefixes: a feed that lost most of its ranges. */
export function shrunkFeed(base: FeedDoc, changeNumber: number, keep: number): FeedDoc {
  const doc = structuredClone(base);
  doc.changeNumber = changeNumber;
  for (const v of doc.values)
    v.properties.addressPrefixes = v.properties.addressPrefixes.slice(
      0,
      Math.ceil(v.properties.addressPrefixes.length * keep),
    );
  return doc;
}

export function tagPrefixes(doc: FeedDoc, ...names: string[]): string[] {
  return names.flatMap((n) => doc.values.find((v) => v.name === n)?.properties.addressPrefixes ?? []);
}

/** The cover a policy for these tags must carry, computed straight from the feed. */
export function expectedCover(doc: FeedDoc, ...names: string[]): string[] {
  return coverStrings(tagPrefixes(doc, ...names));
}

export async function putFeed(client: KubeClient, namespace: string, name: string, text: string): Promise<void> {
  await client.apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace },
    data: { 'ServiceTags.json': text },
  });
}

/** A ConfigMap as `kubectl create configmap --from-file=ServiceTags.json.gz=<file>.gz` makes it: gzip in binaryData. */
export async function putGzippedFeed(client: KubeClient, namespace: string, name: string, gz: Buffer): Promise<void> {
  await client.apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace },
    binaryData: { 'ServiceTags.json.gz': gz.toString('base64') },
  });
}

/** A weekly file of shared/upstream/servicetags as published (every tag), or undefined when it is not there. */
export function upstreamFeedFile(name: string): string | undefined {
  return requiredUpstreamFile(`servicetags/${name}`);
}

/** What the operator persisted as the last good feed of a cloud in its namespace. */
export function lastGoodFeed(client: KubeClient, namespace: string, cloud: CloudName): Promise<FeedState | undefined> {
  return new LastGoodFeedStore(client, namespace).load(cloud);
}
