import { readFile } from 'node:fs/promises';
import { afterEach, inject } from 'vitest';

// A failing integration test prints the tail of each control-plane log, so CI output alone explains it.
afterEach(async ({ task }) => {
  if (task.result?.state !== 'fail') return;
  const { logs } = inject('controlPlane');
  for (const [name, file] of Object.entries(logs)) {
    const text = await readFile(file, 'utf8').catch(() => '');
    console.error(`--- ${name} log (last 25 lines of ${file})\n${text.split('\n').slice(-25).join('\n')}`);
  }
});
