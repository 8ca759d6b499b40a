import { EventEmitter } from 'node:events';
import { gzipSync } from 'node:zlib';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../observability/logger.js';
import { CLOUDS, type CloudName } from '../endpoints/clouds.js';
import { parseServiceTags, serializeFeed, type ServiceTagFeed } from '../addresses/servicetags.js';
import { describeShrink, feedBoundsProblem, shrunkTags } from '../addresses/feed-validation.js';
import {
  EmbeddedSnapshotSource,
  SNAPSHOT_MAX_AGE_DAYS,
  feedAgeDays,
  feedText,
  type ServiceTagSource,
} from '../addresses/sources.js';

export interface FeedState {
  feed: ServiceTagFeed;
  /** When this feed (change number) was first accepted; stable across restarts. */
  acceptedAt: string;
}

export interface FeedProblem {
  /** FeedPartial: several sources are configured and one failed; the others' feed is in use (not a refusal). */
  reason: 'FeedUnreadable' | 'FeedShrunk' | 'FeedWentBack' | 'FeedWrongCloud' | 'FeedOutOfBounds' | 'FeedPartial';
  message: string;
}

interface StoredMeta {
  source?: string;
  published?: string;
  acceptedAt?: string;
}

/**
 * Keeps the last accepted feed in a ConfigMap per cloud (`<name>-public`, `-china`, `-usgov`), so a restart during
 * a feed outage still has it and one cloud's feed can never overwrite another's. The feed (relevant tags only,
 * 153 kB for the public cloud today) is stored gzipped in binaryData, far below the 1 MiB a ConfigMap may hold.
 */
export class LastGoodFeedStore {
  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    readonly name = 'acr-access-last-good-feed',
  ) {}

  nameFor(cloud: CloudName): string {
    return `${this.name}-${CLOUDS[cloud].snapshot}`;
  }

  /** The stored feed for `cloud`, as stored: the caller checks that it is for that cloud and within bounds. */
  async load(cloud: CloudName): Promise<FeedState | undefined> {
    const get = (name: string) =>
      this.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: this.namespace, name });
    // The single ConfigMap of earlier versions is read only when this cloud has none yet.
    const cm = (await get(this.nameFor(cloud))) ?? (await get(this.name));
    if (!cm) return undefined;
    const description = `configmap ${this.namespace}/${cm.metadata.name}`;
    const data = cm.data as Record<string, string> | undefined;
    const gz = (cm.binaryData as Record<string, string> | undefined)?.['feed.json.gz'];
    const text = gz !== undefined ? feedText(Buffer.from(gz, 'base64'), description) : data?.['feed.json'];
    if (text === undefined) return undefined;
    const meta = JSON.parse(data?.['meta.json'] ?? '{}') as StoredMeta;
    const feed = parseServiceTags(text, meta.source ?? description, meta.published);
    return { feed, acceptedAt: meta.acceptedAt ?? new Date(0).toISOString() };
  }

  async save(cloud: CloudName, state: FeedState): Promise<void> {
    const meta: StoredMeta = {
      source: state.feed.source,
      published: state.feed.published,
      acceptedAt: state.acceptedAt,
    };
    await this.client.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.nameFor(cloud),
        namespace: this.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'acr-access-operator' },
      },
      data: { 'meta.json': JSON.stringify(meta) },
      binaryData: { 'feed.json.gz': gzipSync(serializeFeed(state.feed)).toString('base64') },
    });
  }
}

export interface FeedManagerOptions {
  /** The configured source (file, ConfigMap); clouds it does not serve use the embedded snapshot. */
  source?: ServiceTagSource;
  /** The cloud the source publishes; a feed for any other cloud is refused. Default AzurePublicCloud. */
  sourceCloud?: CloudName;
  store?: LastGoodFeedStore;
  /** Refuse a feed in which any relevant tag lost more than this fraction (0..1) of its prefixes. */
  maxShrink: number;
  logger: Logger;
  now?: () => Date;
}

/**
 * The Service Tags feed, loaded once and shared by every resource. A new feed is accepted only when it parses,
 * is for the configured cloud, has every prefix within bounds (feed-validation.ts), does not go back in change
 * number and has no relevant tag that shrank by more than `maxShrink`; otherwise the last good feed stays in use
 * and `problem` says why. Emits 'change' (cloud, old, new).
 */
export class FeedManager extends EventEmitter<{ change: [CloudName, FeedState | undefined, FeedState] }> {
  private readonly states = new Map<CloudName, FeedState>();
  private readonly sourceCloud: CloudName;
  problem: FeedProblem | undefined;

  constructor(private readonly opts: FeedManagerOptions) {
    super();
    this.sourceCloud = opts.sourceCloud ?? 'AzurePublicCloud';
  }

  /** Restores the source cloud's last good feed (if it is still acceptable), then reads the source. */
  async start(): Promise<void> {
    try {
      const saved = await this.opts.store?.load(this.sourceCloud);
      const problem = saved && this.untrusted(saved.feed);
      if (problem) this.opts.logger.warn(problem, 'the persisted Service Tags feed is not restored');
      else if (saved) this.states.set(this.sourceCloud, saved);
    } catch (err) {
      this.opts.logger.warn({ err }, 'the last good Service Tags feed could not be restored');
    }
    await this.refresh();
  }

  /** Re-reads the configured source; returns true when a new feed was accepted. */
  async refresh(): Promise<boolean> {
    const source = this.opts.source;
    if (!source) return false;
    let feed: ServiceTagFeed;
    try {
      feed = await source.load();
    } catch (err) {
      return this.refuse({ reason: 'FeedUnreadable', message: (err as Error).message });
    }
    // Checked before the change number, so a tampered feed is reported even when it claims the current number.
    const untrusted = this.untrusted(feed);
    if (untrusted) return this.refuse(untrusted);
    const cloud = this.sourceCloud;
    const current = this.states.get(cloud);
    // Merged sources can bring a newer tag under an unchanged feed-wide number (a lagging source caught up).
    if (current && feed.changeNumber === current.feed.changeNumber && !hasNewerTag(current.feed, feed)) {
      this.problem = partial(source);
      return false;
    }
    if (current && feed.changeNumber < current.feed.changeNumber) {
      return this.refuse({
        reason: 'FeedWentBack',
        message: `${feed.source} has changeNumber ${feed.changeNumber}, older than ${current.feed.changeNumber} in use; keeping the newer feed`,
      });
    }
    const shrunk = current ? shrunkTags(current.feed, feed, this.opts.maxShrink) : [];
    if (current && shrunk.length) {
      const shown = shrunk.slice(0, 3).map(describeShrink).join('; ');
      const more = shrunk.length > 3 ? `; and ${shrunk.length - 3} more tags` : '';
      return this.refuse({
        reason: 'FeedShrunk',
        message: `${feed.source} (changeNumber ${feed.changeNumber}) against changeNumber ${current.feed.changeNumber}: ${shown}${more}: more than ${Math.round(this.opts.maxShrink * 100)}% of a tag gone; keeping the last good feed`,
      });
    }
    const next: FeedState = { feed, acceptedAt: (this.opts.now?.() ?? new Date()).toISOString() };
    this.states.set(cloud, next);
    this.problem = partial(source);
    this.opts.logger.info(
      { cloud, changeNumber: feed.changeNumber, source: feed.source },
      'service tags feed accepted',
    );
    try {
      await this.opts.store?.save(cloud, next);
    } catch (err) {
      this.opts.logger.warn({ err }, 'could not persist the last good Service Tags feed');
    }
    this.emit('change', cloud, current, next);
    return true;
  }

  /** The feed for a cloud: the configured source's, else the embedded snapshot (with its age). */
  async feedFor(cloud: CloudName): Promise<FeedState | undefined> {
    const state = this.states.get(cloud);
    if (state) return state;
    if (this.servesCloud(cloud)) return undefined;
    const feed = await new EmbeddedSnapshotSource(cloud).load();
    const snapshot = { feed, acceptedAt: `${feed.published ?? '1970-01-01'}T00:00:00Z` };
    this.states.set(cloud, snapshot);
    const age = feedAgeDays(feed, this.opts.now?.());
    if (age !== undefined && age > SNAPSHOT_MAX_AGE_DAYS) {
      this.opts.logger.warn(
        { cloud, ageDays: age, changeNumber: feed.changeNumber },
        `using the embedded Service Tags snapshot, which is over ${SNAPSHOT_MAX_AGE_DAYS} days old; configure a feed source`,
      );
    }
    return snapshot;
  }

  /** Whether the configured source serves this cloud (so its problems concern resources in it). */
  servesCloud(cloud: CloudName): boolean {
    return !!this.opts.source && cloud === this.sourceCloud;
  }

  /** Why a feed cannot be trusted for the source cloud at all, whatever the feed in use. */
  private untrusted(feed: ServiceTagFeed): FeedProblem | undefined {
    const expected = CLOUDS[this.sourceCloud].serviceTagsCloud;
    if (feed.cloud !== expected)
      return {
        reason: 'FeedWrongCloud',
        message: `${feed.source} (changeNumber ${feed.changeNumber}) is for cloud ${feed.cloud}, but the source is configured for ${this.sourceCloud} (${expected}; --service-tags-cloud); keeping the last good feed`,
      };
    const outOfBounds = feedBoundsProblem(feed);
    if (outOfBounds) return { reason: 'FeedOutOfBounds', message: `${outOfBounds}; keeping the last good feed` };
    return undefined;
  }

  /** Whether the feed in use is refused (the alert): a source failing beside others that answered is not. */
  get refused(): boolean {
    return this.problem !== undefined && this.problem.reason !== 'FeedPartial';
  }

  private refuse(problem: FeedProblem): false {
    if (this.problem?.message !== problem.message) this.opts.logger.warn(problem, 'service tags feed refused');
    this.problem = problem;
    return false;
  }
}

function hasNewerTag(current: ServiceTagFeed, next: ServiceTagFeed): boolean {
  for (const [name, tag] of next.tags) if (tag.changeNumber > (current.tags.get(name)?.changeNumber ?? -1)) return true;
  return false;
}

function partial(source: ServiceTagSource): FeedProblem | undefined {
  const message = source.problem?.();
  return message ? { reason: 'FeedPartial', message } : undefined;
}
