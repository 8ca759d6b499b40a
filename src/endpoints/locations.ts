import { feedLocations, type FeedLocations } from '../addresses/regions.js';
import { EmbeddedSnapshotSource } from '../addresses/sources.js';
import { CLOUDS, type CloudName } from './clouds.js';

/** The ARM locations accepted for one cloud, and where that list came from. */
export interface KnownLocations extends FeedLocations {
  cloud: CloudName;
  source: string;
}

/** Gives the known locations of a cloud; the default reads the embedded Service Tags snapshot. */
export type LocationCatalog = (cloud: CloudName) => Promise<KnownLocations>;

const embedded = new Map<CloudName, Promise<KnownLocations>>();

/**
 * Locations named by the embedded snapshot's AzureContainerRegistry.<Location> / Storage.<Location> tags. The
 * snapshot is the one source: `npm run snapshot` refreshes the addresses and the accepted locations together, so
 * there is no second table to regenerate. Read once per cloud and process.
 */
export const embeddedLocations: LocationCatalog = (cloud) => {
  let pending = embedded.get(cloud);
  if (!pending) {
    pending = new EmbeddedSnapshotSource(cloud).load().then((feed) => ({
      cloud,
      source: feed.source,
      ...feedLocations(feed),
    }));
    // A failed read is not remembered: the next call tries again.
    pending.catch(() => embedded.delete(cloud));
    embedded.set(cloud, pending);
  }
  return pending;
};

/**
 * Why `region` is not an ARM location of the cloud, with the likely intended name; undefined when it is one.
 * Checks, in order: a Service Tags region code (`germanyn`), a display name (`West Europe`), a location of another
 * cloud, a near miss (`westeurop`).
 */
export async function locationProblem(
  region: string,
  known: KnownLocations,
  catalog: LocationCatalog,
): Promise<string | undefined> {
  const lower = region.toLowerCase();
  if (known.locations.has(lower)) return undefined;
  const code = known.codes.get(lower);
  if (code) return `${region} is a Service Tags region code, not an Azure location; did you mean ${code}?`;
  const compact = lower.replace(/[\s_-]+/g, '');
  if (known.locations.has(compact))
    return `${region} is a display name, not an Azure location; did you mean ${compact}?`;
  for (const other of Object.keys(CLOUDS) as CloudName[]) {
    if (other === known.cloud) continue;
    const elsewhere = await catalog(other).catch(() => undefined);
    if (elsewhere?.locations.has(lower)) {
      return `${region} is a location of ${other}, but the registry is in ${known.cloud}; check spec.registry.cloud and loginServer`;
    }
  }
  const nearest = nearestLocation(compact, known.locations);
  const hint = nearest ? `did you mean ${nearest}?` : `see \`az account list-locations\``;
  return `${region} is not an Azure location of ${known.cloud} (${known.locations.size} known from ${known.source}); ${hint}`;
}

/** The closest known name within a small edit distance (a typo), or undefined. */
export function nearestLocation(name: string, locations: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.min(3, Math.floor(name.length / 4)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of [...locations].sort()) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b: optimal string alignment distance. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
