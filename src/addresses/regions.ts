import type { ServiceTag, ServiceTagFeed } from './servicetags.js';

/** The tag families whose regional entries (`<Family>.<Location>`) hold a registry's addresses. */
export const REGISTRY_TAG_FAMILIES = ['AzureContainerRegistry', 'Storage'] as const;
export type RegistryTagFamily = (typeof REGISTRY_TAG_FAMILIES)[number];

/**
 * The regional entry of one tag family for an ARM location, chosen by NAME: `<family>.<Location>`, compared
 * case-insensitively. The name's suffix is the ARM location name in every cloud's feed, while `properties.region`
 * is not a location: it is a feed code (`germanyn` for GermanyNorth) and it also labels staging ranges
 * (`Storage.EastUS2Stage` carries region `eastus2`), so selecting by it allows too much.
 */
export function regionalTag(feed: ServiceTagFeed, family: RegistryTagFamily, location: string): ServiceTag | undefined {
  return tagsByLowerName(feed).get(`${family}.${location}`.toLowerCase());
}

/** The ARM location a registry tag's name is for (`Storage.GermanyNorth` → `germanynorth`); undefined otherwise. */
export function tagLocation(name: string): string | undefined {
  const dot = name.indexOf('.');
  if (dot < 0) return undefined;
  const family = name.slice(0, dot);
  const suffix = name.slice(dot + 1);
  return (REGISTRY_TAG_FAMILIES as readonly string[]).includes(family) && suffix ? suffix.toLowerCase() : undefined;
}

/** The ARM locations one feed knows, and the feed codes that differ from them (for suggestions). */
export interface FeedLocations {
  /** Every location some AzureContainerRegistry.<Location> or Storage.<Location> tag is named for. */
  locations: Set<string>;
  /** `properties.region` code → location, only where they differ (`germanyn` → `germanynorth`). */
  codes: Map<string, string>;
}

export function feedLocations(feed: ServiceTagFeed): FeedLocations {
  const locations = new Set<string>();
  const codes = new Map<string, string>();
  for (const tag of feed.tags.values()) {
    const location = tagLocation(tag.name);
    if (!location) continue;
    locations.add(location);
    if (tag.region && tag.region !== location) codes.set(tag.region, location);
  }
  // A code that is itself a location (Storage.EastUS2Stage's `eastus2`) is no alias.
  for (const code of codes.keys()) if (locations.has(code)) codes.delete(code);
  return { locations, codes };
}

// Feeds are read-only once parsed; the size check still catches a map that was changed after indexing.
const indexes = new WeakMap<Map<string, ServiceTag>, Map<string, ServiceTag>>();

function tagsByLowerName(feed: ServiceTagFeed): Map<string, ServiceTag> {
  let index = indexes.get(feed.tags);
  if (!index || index.size !== feed.tags.size) {
    index = new Map([...feed.tags.values()].map((t) => [t.name.toLowerCase(), t]));
    indexes.set(feed.tags, index);
  }
  return index;
}
