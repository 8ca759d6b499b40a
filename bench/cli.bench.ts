// CLI start-up: the published binary (bin/acr-access.js on the built dist/) as a fresh process, against a process
// that does nothing (`node -e 0`), each the median of BENCH_CLI_RUNS runs (default 10) measured in the same run.
import { spawnSync } from 'node:child_process';
import { report } from './harness.js';

function median(runs: number, args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function runCliBenchmark(runs = Number(process.env.BENCH_CLI_RUNS ?? 10)): void {
  const baseline = median(runs, ['-e', '0']);
  const cases: [string, string[]][] = [
    ['acr-access --help', ['bin/acr-access.js', '--help']],
    ['acr-access render -f examples/acraccess.yaml', ['bin/acr-access.js', 'render', '-f', 'examples/acraccess.yaml']],
    // For scale: what every command would cost if the operator's modules (@kubernetes/client-node) loaded eagerly.
    ['acr-access run --help', ['bin/acr-access.js', 'run', '--help']],
  ];
  for (const [name, args] of cases) report(`start-up ${name}`, median(runs, args), 'node -e 0', baseline);
}
