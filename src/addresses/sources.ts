import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { KubeClient } from '../kube/client.js';
import { CLOUDS, type CloudName } from '../endpoints/clouds.js';
import { FeedError, parseServiceTags, publishedFromFileName, type ServiceTagFeed } from './servicetags.js';

/** Where a Service Tags feed comes from. `load` either returns a whole, valid feed or throws. */
export interface ServiceTagSource {
  readonly description: string;
  load(): Promise<ServiceTagFeed>;
  /**
   * Why part of the last `load` failed although it returned a feed (CombinedServiceTagSource: some of its sources
   * answered, others did not); undefined when nothing failed. Single sources have none.
   */
  problem?(): string | undefined;
}

export class FileSource implements ServiceTagSource {
  constructor(private readonly file: string) {}

  get description(): string {
    return `file ${this.file}`;
  }

  async load(): Promise<ServiceTagFeed> {
    const bytes = await readFile(this.file).catch((err: Error) => {
      throw new FeedError(this.description, '', `cannot be read (${err.message})`);
    });
    const text = feedText(bytes, this.description);
    return parseServiceTags(text, this.description, publishedFromFileName(this.file.replace(/\.gz$/i, '')));
  }
}

/** The largest feed text accepted, compressed or not: the weekly public file is 4.2 MB, so 16× headroom. */
export const MAX_FEED_TEXT_BYTES = 64 * 1024 * 1024;

const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** Feed bytes as text: gzip (detected by its magic number) is inflated, never past MAX_FEED_TEXT_BYTES. */
export function feedText(bytes: Buffer, description: string): string {
  let text = bytes;
  if (isGzip(bytes)) {
    try {
      text = gunzipSync(bytes, { maxOutputLength: MAX_FEED_TEXT_BYTES });
    } catch (err) {
      const tooBig = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw new FeedError(
        description,
        '',
        tooBig
          ? `the gzip data inflates to more than ${MAX_FEED_TEXT_BYTES / 1024 / 1024} MiB`
          : `the gzip data is corrupt (${(err as Error).message})`,
      );
    }
  } else if (bytes.length > MAX_FEED_TEXT_BYTES) {
    throw new FeedError(description, '', `larger than ${MAX_FEED_TEXT_BYTES / 1024 / 1024} MiB`);
  }
  return text.toString('utf8');
}

/**
 * A ConfigMap holding the weekly file under one key, as `kubectl create configmap --from-file` stores it: plain
 * text in `data`, or in `binaryData`, gzip-compressed or not. A ConfigMap holds at most 1 MiB, so the 4.2 MB
 * public file only fits gzipped (0.5 MB): when the configured key is absent, `<key>.gz` is read instead.
 */
export class ConfigMapSource implements ServiceTagSource {
  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    readonly name: string,
    readonly key = 'ServiceTags.json',
  ) {}

  get description(): string {
    return `configmap ${this.namespace}/${this.name} key ${this.key}`;
  }

  async load(): Promise<ServiceTagFeed> {
    const cm = await this.client.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: this.namespace,
      name: this.name,
    });
    if (!cm) throw new FeedError(this.description, '', 'the ConfigMap does not exist');
    return feedFromConfigMap(cm, this.key, this.description);
  }
}

export interface ConfigMapLike {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  metadata?: { annotations?: Record<string, string> };
}

export function feedFromConfigMap(cm: ConfigMapLike, key: string, description: string): ServiceTagFeed {
  const gzKey = key.endsWith('.gz') ? undefined : `${key}.gz`;
  const text = configMapText(cm, key, description) ?? (gzKey ? configMapText(cm, gzKey, description) : undefined);
  if (text === undefined)
    throw new FeedError(description, '', `the ConfigMap has no key ${key}${gzKey ? ` (nor ${gzKey})` : ''}`);
  return parseServiceTags(text, description, cm.metadata?.annotations?.['acraccess.io/published']);
}

function configMapText(cm: ConfigMapLike, key: string, description: string): string | undefined {
  if (cm.data?.[key] !== undefined) return cm.data[key];
  const encoded = cm.binaryData?.[key];
  if (encoded === undefined) return undefined;
  const bytes = Buffer.from(encoded, 'base64');
  if (key.endsWith('.gz') && !isGzip(bytes)) throw new FeedError(description, '', `key ${key} is not gzip data`);
  return feedText(bytes, description);
}

const snapshotDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../data/servicetags');

/**
 * The snapshot shipped with the operator (data/servicetags/), trimmed to the tags this project uses. It is the
 * fallback when no feed is configured; it ages, so callers warn once it is older than `maxAgeDays`.
 */
export class EmbeddedSnapshotSource implements ServiceTagSource {
  constructor(readonly cloud: CloudName = 'AzurePublicCloud') {}

  get description(): string {
    return `embedded snapshot (${this.cloud})`;
  }

  async load(): Promise<ServiceTagFeed> {
    const file = path.join(snapshotDir, `${CLOUDS[this.cloud].snapshot}.json`);
    const text = await readFile(file, 'utf8');
    const meta = (JSON.parse(text) as { snapshot?: { file?: string; published?: string } }).snapshot;
    return parseServiceTags(text, `embedded snapshot ${meta?.file ?? this.cloud}`, meta?.published);
  }
}

/** Past this age the embedded snapshot is reported as stale. */
export const SNAPSHOT_MAX_AGE_DAYS = 30;

/** Days between a feed's publication date and `now`; undefined when the feed does not say. */
export function feedAgeDays(feed: ServiceTagFeed, now = new Date()): number | undefined {
  if (!feed.published) return undefined;
  return Math.floor((now.getTime() - Date.parse(`${feed.published}T00:00:00Z`)) / 86_400_000);
}
