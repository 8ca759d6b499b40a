// Builds data/servicetags/<cloud>.json from the weekly Service Tags files: only the tags this project uses
// (AzureContainerRegistry*, Storage and Storage.<region>, MicrosoftContainerRegistry*, AzureFrontDoor.FirstParty),
// in the feed's own format, plus a `snapshot` block naming the source file and its publication date.
// Usage: npx tsx hack/make-servicetags-snapshot.ts <dir with ServiceTags_*.json> [out dir]
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isRelevantTag, publishedFromFileName } from '../src/addresses/servicetags.js';

const STEMS: Record<string, string> = { Public: 'public', China: 'china', AzureGovernment: 'usgov' };

async function main(): Promise<void> {
  const [inDir, outDir = 'data/servicetags'] = process.argv.slice(2);
  if (!inDir) throw new Error('usage: make-servicetags-snapshot <dir with ServiceTags_*.json> [out dir]');
  for (const file of (await readdir(inDir)).filter((f) => /^ServiceTags_.*\.json$/.test(f)).sort()) {
    const doc = JSON.parse(await readFile(path.join(inDir, file), 'utf8')) as {
      changeNumber: number;
      cloud: string;
      values: { name: string }[];
    };
    const stem = STEMS[doc.cloud];
    if (!stem) throw new Error(`${file}: unknown cloud ${doc.cloud}`);
    const values = doc.values.filter((v) => isRelevantTag(v.name));
    const out = {
      changeNumber: doc.changeNumber,
      cloud: doc.cloud,
      snapshot: { file, published: publishedFromFileName(file), tags: values.length, of: doc.values.length },
      values,
    };
    await writeFile(path.join(outDir, `${stem}.json`), JSON.stringify(out) + '\n');
    console.log(
      `${stem}.json: ${values.length} of ${doc.values.length} tags from ${file} (changeNumber ${doc.changeNumber})`,
    );
  }
}

await main();
