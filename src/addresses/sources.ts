import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeClient } from '../kube/client.js';
import { CLOUDS, type CloudName } from '../endpoints/clouds.js';
import { FeedError, parseServiceTags, publishedFromFileName, type ServiceTagFeed } from './servicetags.js';

/** Where a Service Tags feed comes from. `load` either returns a whole, valid feed or throws. */
export interface ServiceTagSource {
  readonly description: string;
  load(): Promise<ServiceTagFeed>;
}

export class FileSource implements ServiceTagSource {
  constructor(private readonly file: string) {}

  get description(): string {
    return `file ${this.file}`;
  }

  async load(): Promise<ServiceTagFeed> {
    const text = await readFile(this.file, 'utf8').catch((err: Error) => {
      throw new FeedError(this.description, '', `cannot be read (${err.message})`);
    });
    return parseServiceTags(text, this.description, publishedFromFileName(this.file));
  }
}

/** A ConfigMap holding the weekly file under one key (data or binaryData, as `kubectl create --from-file` does). */
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
  const text =
    cm.data?.[key] ?? (cm.binaryData?.[key] ? Buffer.from(cm.binaryData[key], 'base64').toString('utf8') : undefined);
  if (text === undefined) throw new FeedError(description, '', `the ConfigMap has no key ${key}`);
  return parseServiceTags(text, description, cm.metadata?.annotations?.['acraccess.io/published']);
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
