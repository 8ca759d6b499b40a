import { isPrefix } from './cidr.js';

/** One entry of the feed, e.g. `AzureContainerRegistry.EastUS`. */
export interface ServiceTag {
  name: string;
  /** The feed's own region code (an ARM location name for most regions; see regions.ts for the exceptions). */
  region: string;
  systemService: string;
  changeNumber: number;
  addressPrefixes: string[];
}

export interface ServiceTagFeed {
  changeNumber: number;
  cloud: string;
  tags: Map<string, ServiceTag>;
  /** Where the feed came from, for messages: a file path, `configmap ns/name`, `embedded snapshot …`. */
  source: string;
  /** Publication date (YYYY-MM-DD) when known, e.g. from the weekly file's name. */
  published?: string;
}

export class FeedError extends Error {
  constructor(source: string, where: string, problem: string) {
    super(`service tags from ${source}: ${where ? `${where}: ` : ''}${problem}`);
    this.name = 'FeedError';
  }
}

/**
 * Parses the Service Tags format: the weekly download file (numeric changeNumber, null networkFeatures, LF or CRLF)
 * and the ARM serviceTags answer (string changeNumber). Anything malformed is rejected with the path of the first
 * bad field, never half-accepted.
 */
export function parseServiceTags(text: string, source: string, published?: string): ServiceTagFeed {
  let doc: unknown;
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new FeedError(source, '', `not valid JSON (${(err as Error).message})`);
  }
  return parseServiceTagsDocument(doc, source, published);
}

export function parseServiceTagsDocument(doc: unknown, source: string, published?: string): ServiceTagFeed {
  const fail = (where: string, problem: string): never => {
    throw new FeedError(source, where, problem);
  };
  if (!isObject(doc)) return fail('', 'the document is not a JSON object');
  const changeNumber = toChangeNumber(doc.changeNumber) ?? fail('changeNumber', 'missing or not a whole number');
  if (typeof doc.cloud !== 'string' || !doc.cloud) fail('cloud', 'missing or not a string');
  if (!Array.isArray(doc.values)) return fail('values', 'missing or not a list');
  const tags = new Map<string, ServiceTag>();
  // Where a problem is, for its message: built only on failure, since building it up front for each of the 3,000
  // tags took 0.25 ms of the ~10 ms ingest.
  const at = (i: number, name?: string) => (name === undefined ? `values[${i}]` : `values[${i}] (${name})`);
  doc.values.forEach((value: unknown, i) => {
    if (!isObject(value)) return fail(at(i), 'not an object');
    const name = value.name;
    if (typeof name !== 'string' || !name) return fail(`${at(i)}.name`, 'missing or not a string');
    const props = value.properties;
    if (!isObject(props)) return fail(`${at(i, name)}.properties`, 'missing or not an object');
    const region = props.region ?? '';
    if (typeof region !== 'string') return fail(`${at(i, name)}.properties.region`, 'not a string');
    const prefixes = props.addressPrefixes;
    if (!Array.isArray(prefixes)) return fail(`${at(i, name)}.properties.addressPrefixes`, 'missing or not a list');
    for (let j = 0; j < prefixes.length; j++) {
      const p: unknown = prefixes[j];
      if (typeof p !== 'string' || !isPrefix(p)) {
        fail(`${at(i, name)}.properties.addressPrefixes[${j}]`, `${JSON.stringify(p)} is not an IPv4 or IPv6 prefix`);
      }
    }
    if (tags.has(name)) return fail(at(i, name), 'the tag name appears twice');
    tags.set(name, {
      name,
      region: region.toLowerCase(),
      systemService: typeof props.systemService === 'string' ? props.systemService : '',
      changeNumber: toChangeNumber(props.changeNumber) ?? 0,
      addressPrefixes: prefixes as string[],
    });
  });
  const feed: ServiceTagFeed = { changeNumber, cloud: doc.cloud as string, tags, source };
  if (published) feed.published = published;
  return feed;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toChangeNumber(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** `ServiceTags_Public_20251103.json` → `2025-11-03`. */
export function publishedFromFileName(name: string): string | undefined {
  const m = /_(\d{4})(\d{2})(\d{2})\.json$/i.exec(name);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : undefined;
}

/** The tags this project reads: AzureContainerRegistry*, Storage and Storage.<region>, MCR*, AzureFrontDoor.FirstParty. */
export function isRelevantTag(name: string): boolean {
  const family = name.split('.')[0];
  return (
    family === 'AzureContainerRegistry' ||
    family === 'Storage' ||
    family === 'MicrosoftContainerRegistry' ||
    name === 'AzureFrontDoor.FirstParty'
  );
}

/** How many prefixes the relevant tags hold; the measure of a feed shrinking. */
export function relevantPrefixCount(feed: ServiceTagFeed): number {
  let n = 0;
  for (const tag of feed.tags.values()) if (isRelevantTag(tag.name)) n += tag.addressPrefixes.length;
  return n;
}

/** The feed back in its own JSON format, trimmed to the relevant tags. */
export function serializeFeed(feed: ServiceTagFeed): string {
  const values = [...feed.tags.values()]
    .filter((t) => isRelevantTag(t.name))
    .map((t) => ({
      name: t.name,
      id: t.name,
      properties: {
        changeNumber: t.changeNumber,
        region: t.region,
        systemService: t.systemService,
        addressPrefixes: t.addressPrefixes,
      },
    }));
  return JSON.stringify({ changeNumber: feed.changeNumber, cloud: feed.cloud, values });
}
