import { EventEmitter } from 'node:events';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../observability/logger.js';
import { CLOUDS, type CloudName } from '../endpoints/clouds.js';
import { parseServiceTags, relevantPrefixCount, serializeFeed, type ServiceTagFeed } from '../addresses/servicetags.js';
import {
  EmbeddedSnapshotSource,
  SNAPSHOT_MAX_AGE_DAYS,
  feedAgeDays,
  type ServiceTagSource,
} from '../addresses/sources.js';

export interface FeedState {
  feed: ServiceTagFeed;
  /** When this feed (change number) was first accepted; stable across restarts. */
  acceptedAt: string;
}

export interface FeedProblem {
  reason: 'FeedUnreadable' | 'FeedShrunk' | 'FeedWentBack' | 'FeedWrongCloud';
  message: string;
}

/** Keeps the last accepted feed in a ConfigMap, so a restart during a feed outage still has it. */
export class LastGoodFeedStore {
  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    readonly name = 'acr-access-last-good-feed',
  ) {}

  async load(): Promise<FeedState | undefined> {
    const cm = await this.client.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: this.namespace,
      name: this.name,
    });
    const data = cm?.data as Record<string, string> | undefined;
    if (!data?.['feed.json']) return undefined;
    const meta = JSON.parse(data['meta.json'] ?? '{}') as { source?: string; published?: string; acceptedAt?: string };
    const feed = parseServiceTags(
      data['feed.json'],
      meta.source ?? `configmap ${this.namespace}/${this.name}`,
      meta.published,
    );
    return { feed, acceptedAt: meta.acceptedAt ?? new Date(0).toISOString() };
  }

  async save(state: FeedState): Promise<void> {
    const meta = { source: state.feed.source, published: state.feed.published, acceptedAt: state.acceptedAt };
    await this.client.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'acr-access-operator' },
      },
      data: { 'feed.json': serializeFeed(state.feed), 'meta.json': JSON.stringify(meta) },
    });
  }
}

export interface FeedManagerOptions {
  /** The configured source (file, ConfigMap); clouds it does not serve use the embedded snapshot. */
  source?: ServiceTagSource;
  store?: LastGoodFeedStore;
  /** Refuse a feed whose relevant prefixes dropped by more than this fraction (0..1). */
  maxShrink: number;
  logger: Logger;
  now?: () => Date;
}

/**
 * The Service Tags feed, loaded once and shared by every resource. A new feed is accepted only when it parses,
 * is for the expected cloud, does not go back in change number and has not shrunk by more than `maxShrink`;
 * otherwise the last good feed stays in use and `problem` says why. Emits 'change' (cloud, old, new).
 */
export class FeedManager extends EventEmitter<{ change: [CloudName, FeedState | undefined, FeedState] }> {
  private readonly states = new Map<CloudName, FeedState>();
  private sourceCloud: CloudName | undefined;
  problem: FeedProblem | undefined;

  constructor(private readonly opts: FeedManagerOptions) {
    super();
  }

  /** Restores the last good feed, then reads the source. */
  async start(): Promise<void> {
    try {
      const saved = await this.opts.store?.load();
      if (saved) {
        const cloud = cloudOfFeed(saved.feed);
        if (cloud) this.states.set(cloud, saved);
      }
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
    const cloud = cloudOfFeed(feed);
    if (!cloud)
      return this.refuse({ reason: 'FeedWrongCloud', message: `${feed.source} is for unknown cloud ${feed.cloud}` });
    this.sourceCloud = cloud;
    const current = this.states.get(cloud);
    if (current && feed.changeNumber === current.feed.changeNumber) {
      this.problem = undefined;
      return false;
    }
    if (current && feed.changeNumber < current.feed.changeNumber) {
      return this.refuse({
        reason: 'FeedWentBack',
        message: `${feed.source} has changeNumber ${feed.changeNumber}, older than ${current.feed.changeNumber} in use; keeping the newer feed`,
      });
    }
    if (current) {
      const before = relevantPrefixCount(current.feed);
      const after = relevantPrefixCount(feed);
      if (after < before * (1 - this.opts.maxShrink)) {
        return this.refuse({
          reason: 'FeedShrunk',
          message: `${feed.source} (changeNumber ${feed.changeNumber}) has ${after} registry and storage prefixes, down from ${before} in changeNumber ${current.feed.changeNumber}: more than ${Math.round(this.opts.maxShrink * 100)}% gone; keeping the last good feed`,
        });
      }
    }
    const next: FeedState = { feed, acceptedAt: (this.opts.now?.() ?? new Date()).toISOString() };
    this.states.set(cloud, next);
    this.problem = undefined;
    this.opts.logger.info(
      { cloud, changeNumber: feed.changeNumber, source: feed.source },
      'service tags feed accepted',
    );
    try {
      await this.opts.store?.save(next);
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
    if (this.opts.source && (this.sourceCloud === cloud || this.sourceCloud === undefined)) return undefined;
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
    return !!this.opts.source && (this.sourceCloud === undefined || this.sourceCloud === cloud);
  }

  private refuse(problem: FeedProblem): false {
    if (this.problem?.message !== problem.message) this.opts.logger.warn(problem, 'service tags feed refused');
    this.problem = problem;
    return false;
  }
}

function cloudOfFeed(feed: ServiceTagFeed): CloudName | undefined {
  return (Object.keys(CLOUDS) as CloudName[]).find((c) => CLOUDS[c].serviceTagsCloud === feed.cloud);
}
