/**
 * Times a function: calls are batched so each sample lasts at least `minSampleMs` (sub-millisecond calls are
 * otherwise timer noise), then the median time per call over `samples` samples is returned, in milliseconds.
 */
export function measure(fn: () => unknown, samples = 11, minSampleMs = 10): number {
  let batch = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) fn();
    if (performance.now() - start >= minSampleMs) break;
    batch *= 2;
  }
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) fn();
    times.push((performance.now() - start) / batch);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Prints and returns "name: ours vs baseline = ratio" (below 1 means ours is faster). */
export function report(name: string, ours: number, baselineName: string, baseline: number): string {
  const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`);
  const line = `${name}: ${fmt(ours)} vs ${baselineName} ${fmt(baseline)} = ${(ours / baseline).toFixed(2)}x`;
  console.log(line);
  return line;
}
