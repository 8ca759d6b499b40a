// Service Tags ingest and CIDR cover, as ratios against baselines measured in the same run.
import { readFileSync } from 'node:fs';
import { mergeCidr } from 'cidr-tools';
import { coverStrings } from '../src/addresses/cidr.js';
import { parseServiceTags } from '../src/addresses/servicetags.js';
import { findUpstreamFile } from '../test/fixtures/upstream.js';
import { measure, report } from './harness.js';

export function runAddressBenchmarks(): void {
  const file = findUpstreamFile('servicetags/ServiceTags_Public_20251103.json');
  if (!file)
    throw new Error('shared/upstream/servicetags/ServiceTags_Public_20251103.json is needed for the benchmarks');
  const text = readFileSync(file, 'utf8');
  const doc = JSON.parse(text) as { values: { name: string; properties: { addressPrefixes: string[] } }[] };
  console.log(`feed: ${(text.length / 1e6).toFixed(1)} MB, ${doc.values.length} tags`);

  report(
    'ingest (parse + validate every prefix)',
    measure(() => parseServiceTags(text, 'bench')),
    'JSON.parse',
    measure(() => JSON.parse(text)),
  );

  const sets: [string, string[]][] = [
    [
      'ACR + Storage, eastus',
      doc.values
        .filter((v) => /^(AzureContainerRegistry|Storage)\.EastUS$/.test(v.name))
        .flatMap((v) => v.properties.addressPrefixes),
    ],
    [
      'ACR + Storage, all tags',
      doc.values
        .filter((v) => /^(AzureContainerRegistry|Storage)(\.|$)/.test(v.name))
        .flatMap((v) => v.properties.addressPrefixes),
    ],
    ['whole feed', doc.values.flatMap((v) => v.properties.addressPrefixes)],
  ];
  for (const [name, prefixes] of sets) {
    const ours = coverStrings(prefixes);
    const theirs = mergeCidr(prefixes);
    if (ours.length !== theirs.length)
      throw new Error(`${name}: cover gives ${ours.length} prefixes, cidr-tools ${theirs.length}`);
    report(
      `cover ${name} (${prefixes.length} → ${ours.length})`,
      measure(() => coverStrings(prefixes)),
      'cidr-tools mergeCidr',
      measure(() => mergeCidr(prefixes)),
    );
  }
}
