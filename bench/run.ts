// npm run bench: every benchmark, each reported as a ratio against a baseline measured in the same run.
import { runAddressBenchmarks } from './addresses.bench.js';
import { runBackendBenchmarks } from './backends.bench.js';
import { runCliBenchmark } from './cli.bench.js';
import { runControllerBenchmark } from './controller.bench.js';

console.log(`node ${process.version}`);
// --no-controller: everything but the control-plane run; --controller-only: just that run (several minutes).
if (!process.argv.includes('--controller-only')) {
  runAddressBenchmarks();
  runCliBenchmark();
  await runBackendBenchmarks();
}
if (!process.argv.includes('--no-controller')) await runControllerBenchmark();
