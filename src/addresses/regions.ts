import type { ServiceTag, ServiceTagFeed } from './servicetags.js';

/**
 * ARM location names whose Service Tags entries carry a different `properties.region` code. Observed in the public
 * feed (ServiceTags_Public_20251103, changeNumber 376): e.g. `AzureContainerRegistry.GermanyNorth` has region
 * `germanyn`. Users write ARM location names (what `az acr show` prints), so selection accepts both.
 */
export const FEED_REGION_CODES: Readonly<Record<string, string>> = {
  brazilsoutheast: 'brazilse',
  chilecentral: 'chilec',
  francecentral: 'centralfrance',
  francesouth: 'southfrance',
  germanynorth: 'germanyn',
  germanywestcentral: 'germanywc',
  norwayeast: 'norwaye',
  norwaywest: 'norwayw',
  switzerlandnorth: 'switzerlandn',
  switzerlandwest: 'switzerlandw',
};

export function feedRegionCodes(location: string): string[] {
  const l = location.toLowerCase();
  const alias = FEED_REGION_CODES[l];
  return alias ? [l, alias] : [l];
}

/**
 * The regional entries of one service tag family (`AzureContainerRegistry`, `Storage`, …) for an ARM location,
 * chosen by each entry's own `properties.region` field, never by the spelling of its name.
 */
export function regionalTags(feed: ServiceTagFeed, family: string, location: string): ServiceTag[] {
  const codes = new Set(feedRegionCodes(location));
  const out: ServiceTag[] = [];
  for (const tag of feed.tags.values()) {
    if (tag.name.startsWith(`${family}.`) && codes.has(tag.region)) out.push(tag);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
