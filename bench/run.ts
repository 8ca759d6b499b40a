// npm run bench: every benchmark, each reported as a ratio against a baseline measured in the same run.
import { runAddressBenchmarks } from './addresses.bench.js';
import { runArmBenchmark } from './arm.bench.js';
import { runBackendBenchmarks } from './backends.bench.js';
import { runCliBenchmark } from './cli.bench.js';
import { runControllerBenchmark } from './controller.bench.js';

console.log(`node ${process.version}`);
// --no-controller: everything but the control-plane runs; --controller-only: just those (several minutes);
// --arm-only: just the ARM requests per refresh run (a control plane and the fake ARM, a few minutes).
const armOnly = process.argv.includes('--arm-only');
if (!process.argv.includes('--controller-only') && !armOnly) {
  runAddressBenchmarks();
  runCliBenchmark();
  await runBackendBenchmarks();
}
if (!process.argv.includes('--no-controller') && !armOnly) await runControllerBenchmark();
// A measured property failing (registry reads scaling with resources, ARM writes at steady state) fails the run.
if (!process.argv.includes('--no-controller') && !(await runArmBenchmark()).ok) process.exitCode = 1;
