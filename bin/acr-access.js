#!/usr/bin/env node
// Plain JavaScript that any Node.js can parse, checked before anything is imported: on an older Node the CLI's
// dependencies fail with stack traces that do not say what is wrong.
const MIN_MAJOR = 22;
const major = Number(process.versions.node.split('.')[0]);
if (major < MIN_MAJOR) {
  process.stderr.write(`acr-access needs Node.js >= ${MIN_MAJOR} (found v${process.versions.node})\n`);
  process.exit(1);
}
await import('../dist/cli/bin.js');
