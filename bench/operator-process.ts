// The operator as its own process for the controller benchmark: start it, read its RSS and CPU from /proc, read
// its Prometheus counters, and notice if it dies (an OOM under a capped heap is a result, not a hang).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { freePort } from '../test/controlplane/process.js';

export interface OperatorOptions {
  kubeconfig: string;
  namespace: string;
  feedConfigMap: string;
  /** NODE_OPTIONS for the operator (heap cap, profiling). */
  nodeOptions: string;
}

export class OperatorProcess {
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('exit', (code, signal) => (this.exit = { code, signal }));
  }

  static async start(opts: OperatorOptions): Promise<OperatorProcess> {
    const port = await freePort();
    const args = [
      process.env.BENCH_OPERATOR_BIN ?? 'dist/cli/bin.js',
      ...['run', '--kubeconfig', opts.kubeconfig, '--namespace', opts.namespace],
      ...['--service-tags', `configmap:${opts.feedConfigMap}`, '--dns', 'off', '--workers', '4'],
      ...['--resync', '10m', '--refresh-interval', '1h', '--health-address', `127.0.0.1:${port}`],
      ...['--log-level', 'warn'],
    ];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: opts.nodeOptions },
    });
    const operator = new OperatorProcess(child, port);
    await operator.until(
      'operator ready',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true,
      60_000,
    );
    return operator;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Throws if the operator has exited (e.g. out of memory under a capped heap). */
  alive(): void {
    if (this.exit) throw new Error(`the operator exited (code ${this.exit.code}, signal ${this.exit.signal})`);
  }

  async rssMiB(field: 'VmRSS' | 'VmHWM'): Promise<number> {
    this.alive();
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${this.pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) / 1024;
  }

  /** User + system CPU seconds so far (utime and stime, fields 14 and 15 of /proc/pid/stat, in 1/100 s). */
  async cpuSeconds(): Promise<number> {
    this.alive();
    const stat = await readFile(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  /** The sum of a metric's samples (all label sets). */
  async metric(name: string): Promise<number> {
    this.alive();
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Polls `probe` until true; fails fast if the operator dies meanwhile. */
  async until(what: string, probe: () => Promise<boolean>, timeoutMs = 900_000): Promise<number> {
    const start = performance.now();
    while (!(await probe())) {
      this.alive();
      if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    this.alive();
    return performance.now() - start;
  }

  async stop(): Promise<void> {
    if (this.exit) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 25_000))]);
  }
}
