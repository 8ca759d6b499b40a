import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { silentLogger, type Logger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { DEFAULTS, startOperator, type Operator, type OperatorOptions } from '../../src/controller/operator.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import type { KubeClient } from '../../src/kube/client.js';
import { controlPlane, eventually } from './cluster.js';
import { freePort } from '../controlplane/process.js';
import { bindOperatorClusterRole, installProject } from './install.js';

export { bindOperatorNamespace } from './install.js';

let installed = false;

/** CRDs and the operator's own RBAC, once per run. */
export async function installOperatorPrerequisites(admin: KubeClient): Promise<void> {
  if (installed) return;
  await installProject(admin);
  await bindOperatorClusterRole(admin);
  installed = true;
}

/**
 * Starts the operator in this process under the operator identity, scoped to one test namespace (which is also
 * its own namespace), with fast timings.
 */
export async function startTestOperator(
  namespace: string,
  overrides: Partial<OperatorOptions> = {},
  kubeconfig = controlPlane().kubeconfigs.operator,
  logger: Logger = silentLogger(),
): Promise<Operator> {
  const options: OperatorOptions = {
    ...DEFAULTS,
    namespace,
    watchedNamespaces: [namespace],
    dns: 'off',
    resyncMs: 10_000,
    refreshIntervalMs: 1000,
    workers: 2,
    // CNI CRDs installed by other tests must not change what these operators write, unless a test asks.
    backends: ['NetworkPolicy'],
    ...overrides,
  };
  return startOperator(options, logger, loadKubeConfig({ kubeconfig }), new Metrics(false));
}

/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Scrapes /metrics; `value(name, labels)` sums the samples whose labels include `labels` (undefined: none). */
export async function scrapeMetrics(port: number): Promise<{
  samples: Sample[];
  value(name: string, labels?: Record<string, string>): number | undefined;
}> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const samples: Sample[] = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return {
    samples,
    value(name, want = {}) {
      const found = samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
      return found.length ? found.reduce((sum, s) => sum + s.value, 0) : undefined;
    },
  };
}

/** `acr-access run` in a child process (from source, as the published bin runs the built copy), JSON logs parsed. */
export interface SpawnedOperator {
  child: ChildProcess;
  healthPort: number;
  logs: Record<string, unknown>[];
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** The lease holder identity it logs at start. */
  identity(): Promise<string>;
  /** Sends a signal and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export async function spawnOperator(namespace: string, extraArgs: string[] = []): Promise<SpawnedOperator> {
  const healthPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/bin.ts',
      'run',
      `--kubeconfig=${controlPlane().kubeconfigs.operator}`,
      `--namespace=${namespace}`,
      `--watch-namespaces=${namespace}`,
      '--service-tags=embedded',
      '--backends=NetworkPolicy',
      '--dns=off',
      `--health-address=127.0.0.1:${healthPort}`,
      '--log-level=info',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const logs: Record<string, unknown>[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      logs.push({ msg: line });
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    healthPort,
    logs,
    exited,
    identity: () =>
      eventually(
        'the operator logs its leader election identity',
        async () => logs.find((l) => typeof l.identity === 'string')?.identity as string | undefined,
        30_000,
      ),
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
