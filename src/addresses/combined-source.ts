/**
 * Several Service Tags sources read as one (`--service-tags` given more than once, e.g. `arm:eastus` beside a
 * `configmap:` holding the weekly file): each source lags the others now and then (ARM behind the weekly file, a
 * file nobody updated), so per tag the entry with the highest change number wins.
 */
import { CLOUDS, type CloudName } from '../endpoints/clouds.js';
import type { Logger } from '../observability/logger.js';
import { feedBoundsProblem } from './feed-validation.js';
import { isRelevantTag, type ServiceTag, type ServiceTagFeed } from './servicetags.js';
import type { ServiceTagSource } from './sources.js';

/** One configured source and the name it was configured by (`arm:eastus`, `file:/feeds/x.json`, `embedded`). */
export interface NamedSource {
  name: string;
  source: ServiceTagSource;
}

export interface CombinedLoad {
  feed: ServiceTagFeed;
  /** Tag name → the name of the source its entry was taken from. */
  origins: Map<string, string>;
  /** The sources left out this time (unreadable, another cloud's, out of bounds), with why. */
  failures: { name: string; message: string }[];
}

export interface CombinedSourceOptions {
  /** The cloud every source must publish (--service-tags-cloud); a source with another cloud's feed is left out. */
  cloud?: CloudName;
  logger?: Logger;
}

/**
 * Reads every source at once and merges their feeds per tag: for each tag name the entry of the source with the
 * highest per-tag changeNumber wins, the first configured source on a tie. The merged feed's changeNumber is the
 * highest of the feeds used, `published` that of the feed with it, `source` the names of the sources used
 * (`arm:eastus+embedded`). A source that fails, or whose feed is another cloud's or out of bounds, is left out and
 * reported (`problem()`, a warning); when every source fails, `load` throws as a single source does, and when none
 * is usable but some answered, the first answer is returned as is, so FeedManager refuses it for the same reason
 * (FeedWrongCloud, FeedOutOfBounds) it would refuse that source alone.
 */
export class CombinedServiceTagSource implements ServiceTagSource {
  private readonly cloud: CloudName;
  private readonly logger: Logger | undefined;
  private readonly bounds = new WeakMap<ServiceTagFeed, string | undefined>();
  private inFlight: Promise<CombinedLoad> | undefined;
  private last: { used: readonly ServiceTagFeed[]; load: CombinedLoad } | undefined;
  private failureText: string | undefined;

  constructor(
    readonly sources: readonly NamedSource[],
    opts: CombinedSourceOptions = {},
  ) {
    if (sources.length < 2) throw new Error('a combined Service Tags source needs at least two sources');
    const names = sources.map((s) => s.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice) throw new Error(`--service-tags ${twice} is given twice`);
    this.cloud = opts.cloud ?? 'AzurePublicCloud';
    this.logger = opts.logger;
  }

  get description(): string {
    return `Service Tags combined per tag from ${this.sources.map((s) => s.name).join(', ')}`;
  }

  /** The last load's merged feed, the source of each tag and the sources left out. */
  get lastLoad(): CombinedLoad | undefined {
    return this.last?.load;
  }

  /** Why sources were left out of the last load although it returned a feed; undefined when all were used. */
  problem(): string | undefined {
    return this.failureText;
  }

  async load(): Promise<ServiceTagFeed> {
    return (await this.loadAll()).feed;
  }

  /** One read of every source at a time: a refresh asked for while one runs shares its answer. */
  loadAll(): Promise<CombinedLoad> {
    this.inFlight ??= this.read().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async read(): Promise<CombinedLoad> {
    const expected = CLOUDS[this.cloud].serviceTagsCloud;
    const results = await Promise.allSettled(this.sources.map((s) => s.source.load()));
    const used: { name: string; feed: ServiceTagFeed }[] = [];
    const failures: { name: string; message: string }[] = [];
    let firstAnswer: ServiceTagFeed | undefined;
    results.forEach((r, i) => {
      const { name } = this.sources[i]!;
      if (r.status === 'rejected') {
        failures.push({ name, message: (r.reason as Error)?.message ?? String(r.reason) });
        return;
      }
      const feed = r.value;
      firstAnswer ??= feed;
      const refused =
        feed.cloud !== expected
          ? `${feed.source} (changeNumber ${feed.changeNumber}) is for cloud ${feed.cloud}, but the sources are configured for ${this.cloud} (${expected}; --service-tags-cloud)`
          : this.boundsProblem(feed);
      if (refused) failures.push({ name, message: refused });
      else used.push({ name, feed });
    });
    this.report(failures, used.length > 0);
    if (!used.length) {
      if (firstAnswer) return { feed: firstAnswer, origins: new Map(), failures };
      throw new Error(`no Service Tags source could be read: ${failures.map((f) => f.message).join('; ')}`);
    }
    const feeds = used.map((u) => u.feed);
    const last = this.last;
    if (last && last.used.length === feeds.length && last.used.every((f, i) => f === feeds[i])) {
      // Every source answered with the very feed it gave before (ARM's unchanged change number does): same result.
      last.load = { ...last.load, failures };
      return last.load;
    }
    const load = { ...mergeFeeds(used), failures };
    this.describe(load, last?.load);
    this.last = { used: feeds, load };
    return load;
  }

  private boundsProblem(feed: ServiceTagFeed): string | undefined {
    if (!this.bounds.has(feed)) this.bounds.set(feed, feedBoundsProblem(feed));
    return this.bounds.get(feed);
  }

  private report(failures: { name: string; message: string }[], someUsed: boolean): void {
    const text = failures.length
      ? `Service Tags source${failures.length > 1 ? 's' : ''} left out: ${failures.map((f) => `${f.name}: ${f.message}`).join('; ')}`
      : undefined;
    if (text && text !== this.failureText && someUsed)
      this.logger?.warn({ failures }, 'some Service Tags sources failed; the feed is combined from the others');
    this.failureText = someUsed ? text : undefined;
  }

  /** Logs where the tags came from when that changed, and a merge that changed tags without a higher number. */
  private describe(load: CombinedLoad, before: CombinedLoad | undefined): void {
    if (!this.logger || (before && sameMerge(before, load))) return;
    const counts: Record<string, number> = {};
    const relevant: Record<string, string[]> = {};
    for (const [tag, from] of load.origins) {
      counts[from] = (counts[from] ?? 0) + 1;
      if (isRelevantTag(tag)) (relevant[from] ??= []).push(tag);
    }
    const shown = Object.fromEntries(
      Object.entries(relevant).map(([from, tags]) => [
        from,
        tags.length > 20 ? [...tags.slice(0, 20), `… and ${tags.length - 20} more`] : tags,
      ]),
    );
    this.logger.info(
      { source: load.feed.source, changeNumber: load.feed.changeNumber, tagsBySource: counts, relevantTags: shown },
      'service tags combined per tag from several sources',
    );
  }
}

/** The same sources used, and every tag from the same source at the same change number. */
function sameMerge(a: CombinedLoad, b: CombinedLoad): boolean {
  if (a.feed.changeNumber !== b.feed.changeNumber || a.feed.source !== b.feed.source) return false;
  if (a.origins.size !== b.origins.size) return false;
  for (const [tag, from] of b.origins)
    if (a.origins.get(tag) !== from || a.feed.tags.get(tag)?.changeNumber !== b.feed.tags.get(tag)?.changeNumber)
      return false;
  return true;
}

/**
 * The feeds merged per tag (see CombinedServiceTagSource), in the order given. The feeds must be of one cloud;
 * the merged feed keeps the source feeds' tag objects.
 */
export function mergeFeeds(feeds: readonly { name: string; feed: ServiceTagFeed }[]): {
  feed: ServiceTagFeed;
  origins: Map<string, string>;
} {
  if (!feeds.length) throw new Error('no feeds to merge');
  const tags = new Map<string, ServiceTag>();
  const origins = new Map<string, string>();
  let newest = feeds[0]!.feed;
  for (const { name, feed } of feeds) {
    if (feed.changeNumber > newest.changeNumber) newest = feed;
    for (const tag of feed.tags.values()) {
      const held = tags.get(tag.name);
      if (held && held.changeNumber >= tag.changeNumber) continue;
      tags.set(tag.name, tag);
      origins.set(tag.name, name);
    }
  }
  const feed: ServiceTagFeed = {
    changeNumber: newest.changeNumber,
    cloud: newest.cloud,
    tags,
    source: feeds.map((f) => f.name).join('+'),
  };
  if (newest.published) feed.published = newest.published;
  return { feed, origins };
}
