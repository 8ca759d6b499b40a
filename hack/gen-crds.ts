// Writes crds/*.yaml from the schema in src/api (the single source for Helm and plain manifests).
// Usage: npx tsx hack/gen-crds.ts [--check]   (--check fails when the committed files are out of date)
import { readFile, writeFile } from 'node:fs/promises';
import { renderCrdFiles } from '../src/api/crd-files.js';

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, text] of Object.entries(renderCrdFiles())) {
  const current = await readFile(file, 'utf8').catch(() => '');
  if (current === text) continue;
  if (check) {
    console.error(`${file} is out of date: run npx tsx hack/gen-crds.ts`);
    stale++;
  } else {
    await writeFile(file, text);
    console.log(`wrote ${file}`);
  }
}
process.exitCode = stale ? 1 : 0;
