/**
 * Service Tags from Azure Resource Manager (`GET …/providers/Microsoft.Network/locations/{location}/serviceTags`):
 * the same tags as the weekly file, for the cloud the subscription belongs to, parsed and validated by the same code
 * (parseServiceTagsDocument). No SDK here: ARM is reached through a ServiceTagsReader (src/azure/readers.ts).
 */
import { FeedError, parseServiceTagsDocument, type ServiceTagFeed } from './servicetags.js';
import type { ServiceTagSource } from './sources.js';

/** The answer's shape (the SDK's ServiceTagsListResult): change numbers are strings, unlike the weekly file. */
export interface ServiceTagsAnswer {
  changeNumber?: string;
  cloud?: string;
  values?: {
    name?: string;
    id?: string;
    properties?: { changeNumber?: string; region?: string; systemService?: string; addressPrefixes?: string[] };
  }[];
  nextLink?: string;
}

export interface ServiceTagsReader {
  list(location: string): Promise<ServiceTagsAnswer>;
}

/**
 * One `serviceTags.list` call per refresh. `location` only picks the ARM region that answers (the tags are the
 * whole cloud's), so any location of the subscription's cloud serves. An unchanged change number returns the feed
 * already parsed, so FeedManager sees nothing new and writes nothing.
 */
export class ArmServiceTagSource implements ServiceTagSource {
  private last: { changeNumber: string; feed: ServiceTagFeed } | undefined;

  constructor(
    private readonly reader: ServiceTagsReader,
    readonly location: string,
    readonly subscriptionId: string,
  ) {}

  get description(): string {
    return `Azure Resource Manager serviceTags (subscription ${this.subscriptionId}, location ${this.location})`;
  }

  async load(): Promise<ServiceTagFeed> {
    let answer: ServiceTagsAnswer;
    try {
      answer = await this.reader.list(this.location);
    } catch (err) {
      throw new FeedError(this.description, '', `cannot be read (${(err as Error).message})`);
    }
    if (this.last && answer.changeNumber === this.last.changeNumber) return this.last.feed;
    const feed = feedFromArm(answer, this.description);
    this.last = { changeNumber: answer.changeNumber!, feed };
    return feed;
  }
}

/**
 * The ARM answer as a feed. A non-empty nextLink would mean a partial answer: the SDK does not page this
 * operation, and half a feed must never be taken for a whole one (it would retire most prefixes).
 */
export function feedFromArm(answer: ServiceTagsAnswer, source: string): ServiceTagFeed {
  if (answer.nextLink) {
    throw new FeedError(source, 'nextLink', 'the answer is paged, and a partial feed is not accepted');
  }
  // parseServiceTagsDocument already takes string change numbers (they are whole numbers in decimal) and checks
  // every field and prefix, as for the weekly file.
  return parseServiceTagsDocument(answer, source);
}
