// N AcrAccess across M namespaces on the real control plane, the operator in its own process. Reports time to
// converge, API requests per resource, peak RSS and feed-change propagation, each against a baseline measured in
// the same run.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { ControlPlane } from '../test/controlplane/controlplane.js';
import { freePort } from '../test/controlplane/process.js';
import { KubeClient } from '../src/kube/client.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { planNetworkPolicies } from '../src/backends/networkpolicy/plan.js';
import { deriveFeed, putFeed, realFeed } from '../test/support/feeds.js';
import { bindOperator, installProject } from '../test/support/install.js';
import { report } from './harness.js';

const N = Number(process.env.BENCH_N ?? 1000);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 100);

async function parallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const procStatus = async (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
};

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 600_000): Promise<number> {
  const start = performance.now();
  while (!(await probe())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return performance.now() - start;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

export async function runControllerBenchmark(): Promise<void> {
  const plane = new ControlPlane(() => undefined);
  const info = await plane.start();
  const admin = new KubeClient(loadKubeConfig({ kubeconfig: info.kubeconfigs.admin }), { fieldManager: 'bench' });
  let child: ReturnType<typeof spawn> | undefined;
  try {
    await installProject(admin);
    await new Promise((r) => setTimeout(r, 1500));
    admin.discovery.invalidate();
    const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `bench-${i}`);
    for (const name of ['acr-access-system', 'bench-baseline', ...namespaces])
      await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await bindOperator(admin, 'acr-access-system');
    const feed = realFeed();
    await putFeed(admin, 'acr-access-system', 'service-tags', JSON.stringify(feed));

    const resources = Array.from({ length: N }, (_, i) => ({
      apiVersion: 'acraccess.io/v1alpha1',
      kind: 'AcrAccess',
      metadata: { name: `r${i}`, namespace: namespaces[i % NAMESPACES]! },
      spec: {
        registry: { loginServer: 'contoso.azurecr.io', regions: [i % 2 ? 'westeurope' : 'eastus'] },
        addressSources: ['ServiceTags'],
      },
    }));

    // Baseline: the same client writing the same number of equally large NetworkPolicies directly.
    const sample = planNetworkPolicies({
      owner: { apiVersion: 'acraccess.io/v1alpha1', kind: 'AcrAccess', name: 'x', namespace: 'bench-baseline' },
      plane: 'pod',
      hosts: [],
      ports: [{ protocol: 'TCP', port: 443 }],
      options: { cilium: { podMatch: 'FQDNAndCIDR', nodeMatch: 'CIDR' } },
      prefixes: {
        ipv4: feed.values
          .find((v) => v.name === 'Storage.EastUS')!
          .properties.addressPrefixes.filter((p) => !p.includes(':')),
        ipv6: [],
      },
      workloads: { podSelector: {}, namespaces: ['bench-baseline'] },
      provenance: { feed: { changeNumber: 376, cloud: 'Public', source: 'bench' }, tags: [], dns: [], origins: {} },
    })[0]!;
    let t = performance.now();
    await parallel(resources, 16, (r) =>
      admin.apply({ ...sample, metadata: { ...sample.metadata, name: r.metadata.name } }),
    );
    const baselineMs = performance.now() - t;

    const port = await freePort();
    child = spawn(
      process.execPath,
      [
        'dist/cli/bin.js',
        'run',
        '--kubeconfig',
        info.kubeconfigs.operator,
        '--namespace',
        'acr-access-system',
        '--service-tags',
        'configmap:acr-access-system/service-tags',
        '--dns',
        'off',
        '--workers',
        '4',
        '--resync',
        '10m',
        '--refresh-interval',
        '1h',
        '--health-address',
        `127.0.0.1:${port}`,
        '--log-level',
        'warn',
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, NODE_OPTIONS: process.env.BENCH_OPERATOR_NODE_OPTIONS ?? '' },
      },
    );
    await until(
      'operator ready',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = await procStatus(child.pid!, 'VmRSS');
    const requestsBefore = await metric(port, 'rest_client_requests_total');

    t = performance.now();
    await parallel(resources, 16, (r) => admin.apply(r));
    const createMs = performance.now() - t;
    const ready = async () => {
      const list = await admin.list('acraccess.io/v1alpha1', 'AcrAccess', { pageSize: 500 });
      return (
        list.items.filter((r) =>
          (r.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some(
            (c) => c.type === 'Ready' && c.status === 'True',
          ),
        ).length === N
      );
    };
    await until('all Ready', ready);
    const convergeMs = performance.now() - t;
    await new Promise((r) => setTimeout(r, 2000));
    const requests = (await metric(port, 'rest_client_requests_total')) - requestsBefore;
    const reconcilesBefore = await metric(port, 'controller_runtime_reconcile_total');

    // A feed change touching only East US tags: half the resources are affected.
    const next = deriveFeed(feed, 377, { add: { 'AzureContainerRegistry.EastUS': ['20.99.0.0/24'] } });
    t = performance.now();
    await putFeed(admin, 'acr-access-system', 'service-tags', JSON.stringify(next));
    await until('feed change applied', async () => {
      const list = await admin.list('networking.k8s.io/v1', 'NetworkPolicy', {
        labelSelector: 'app.kubernetes.io/managed-by=acr-access-operator',
        pageSize: 500,
      });
      return list.items.filter((np) => JSON.stringify(np.spec).includes('20.99.0.0/24')).length === N / 2;
    });
    const feedMs = performance.now() - t;
    await new Promise((r) => setTimeout(r, 2000));
    const feedReconciles = (await metric(port, 'controller_runtime_reconcile_total')) - reconcilesBefore;
    const peakRss = await procStatus(child.pid!, 'VmHWM');

    const nodeOptions = process.env.BENCH_OPERATOR_NODE_OPTIONS
      ? `, NODE_OPTIONS=${process.env.BENCH_OPERATOR_NODE_OPTIONS}`
      : '';
    console.log(
      `controller: ${N} AcrAccess in ${NAMESPACES} namespaces (operator: 4 workers, separate process${nodeOptions})`,
    );
    console.log(
      `  creating the ${N} resources took ${(createMs / 1000).toFixed(1)} s; all Ready ${(convergeMs / 1000).toFixed(1)} s after the first was created`,
    );
    report('  time to converge', convergeMs, `writing ${N} NetworkPolicies directly`, baselineMs);
    report(
      `  feed change to all ${N / 2} affected policies updated`,
      feedMs,
      `writing ${N} NetworkPolicies directly`,
      baselineMs,
    );
    console.log(`  reconciles for the feed change: ${feedReconciles} (affected resources: ${N / 2})`);
    console.log(
      `  API requests per resource to converge: ${(requests / N).toFixed(2)} = ${(requests / N / 3).toFixed(2)}x the minimum of 3 (policy, status, event)`,
    );
    console.log(
      `  operator RSS: idle ${idleRss.toFixed(0)} MiB, peak ${peakRss.toFixed(0)} MiB = ${(peakRss / idleRss).toFixed(2)}x idle`,
    );
  } finally {
    child?.kill('SIGTERM');
    await plane.stop();
  }
}
