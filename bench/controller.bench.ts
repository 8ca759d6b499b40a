// N AcrAccess across M namespaces on the real control plane, the operator in its own process, for several N and
// once more under a heap cap sized for a 256 Mi container. Each run reports, against baselines measured in the same
// run: time to converge and feed-change propagation against writing N NetworkPolicies directly, operator CPU per
// resource against the writing client's CPU per policy, peak and settled RSS against the operator's own idle RSS
// (and the container limit), and API requests per resource against the minimum of 3.
import { ControlPlane } from '../test/controlplane/controlplane.js';
import { KubeClient } from '../src/kube/client.js';
import { Reflector } from '../src/kube/reflector.js';
import type { KubeObject } from '../src/kube/types.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { planNetworkPolicies } from '../src/backends/networkpolicy/plan.js';
import { deriveFeed, putFeed, realFeed, type FeedDoc } from '../test/support/feeds.js';
import { bindOperator, installProject } from '../test/support/install.js';
import { report } from './harness.js';
import { OperatorProcess } from './operator-process.js';

const SIZES = (process.env.BENCH_N ?? '100,1000,3000').split(',').map(Number);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 100);
/**
 * The Helm-chart-sized run: N resources under heap caps that fit a 256 Mi container limit. Capping the old space
 * alone is not enough: Node 24 sizes the young generation by the machine (128 MiB of new space at N = 1000 here),
 * whatever --max-old-space-size says, so the semi-space is capped too.
 */
const LIMIT_MIB = 256;
const LIMITED_NODE_OPTIONS =
  process.env.BENCH_LIMITED_NODE_OPTIONS ?? '--max-old-space-size=128 --max-semi-space-size=16';
const LIMITED_N = Number(process.env.BENCH_LIMITED_N ?? 1000);
const SETTLE_MS = 10_000;

interface Result {
  label: string;
  n: number;
  capped: boolean;
  baselineMs: number;
  baselineCpuMsPerObject: number;
  convergeMs: number;
  feedMs: number;
  feedReconciles: number;
  requestsPerResource: number;
  cpuMsPerResource: number;
  feedCpuMsPerResource: number;
  idleMiB: number;
  peakMiB: number;
  settledMiB: number;
  /** What the RSS held right after converging, from the operator's own nodejs_* metrics. */
  atConverged: { rss: number; heapTotal: number; heapUsed: number; newSpace: number; external: number };
}

async function parallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** How many objects of a kind currently satisfy `test`, kept by a watch (the objects themselves are not kept). */
async function watchCount(
  client: KubeClient,
  apiVersion: string,
  kind: string,
  labelSelector: string | undefined,
  test: (o: KubeObject) => unknown,
) {
  const matching = new Set<string>();
  const key = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;
  const see = (o: KubeObject) => (o.matches ? matching.add(key(o)) : matching.delete(key(o)));
  const reflector = new Reflector({
    client,
    apiVersion,
    kind,
    ...(labelSelector ? { labelSelector } : {}),
    onAdd: see,
    onUpdate: see,
    onDelete: (o) => matching.delete(key(o)),
    // The store keeps identity and the verdict only.
    transform: (o) => {
      const { name, namespace, resourceVersion } = o.metadata;
      return { apiVersion, kind, metadata: { name, namespace, resourceVersion }, matches: Boolean(test(o)) };
    },
  });
  await reflector.start();
  return { reflector, count: () => matching.size };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The policy the operator would write for one East US resource, as the direct-write baseline's payload. */
function samplePolicy(feed: FeedDoc) {
  return planNetworkPolicies({
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
}

/** One fresh control plane, one operator process, N resources: converge, then a feed change, then settle. */
async function runOnce(label: string, n: number, nodeOptions: string, capped = false): Promise<Result> {
  const plane = new ControlPlane(() => undefined);
  const info = await plane.start();
  const admin = new KubeClient(loadKubeConfig({ kubeconfig: info.kubeconfigs.admin }), { fieldManager: 'bench' });
  let operator: OperatorProcess | undefined;
  const watches: Reflector[] = [];
  try {
    await installProject(admin);
    await sleep(1500);
    admin.discovery.invalidate();
    const namespaces = Array.from({ length: Math.min(NAMESPACES, n) }, (_, i) => `bench-${i}`);
    for (const name of ['acr-access-system', 'bench-baseline', ...namespaces])
      await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await bindOperator(admin, 'acr-access-system');
    const feed = realFeed();
    await putFeed(admin, 'acr-access-system', 'service-tags', JSON.stringify(feed));
    const resources = Array.from({ length: n }, (_, i) => ({
      apiVersion: 'acraccess.io/v1alpha1',
      kind: 'AcrAccess',
      metadata: { name: `r${i}`, namespace: namespaces[i % namespaces.length]! },
      spec: {
        registry: { loginServer: 'contoso.azurecr.io', regions: [i % 2 ? 'westeurope' : 'eastus'] },
        addressSources: ['ServiceTags'],
      },
    }));

    // Baseline: the same client writing as many equally large NetworkPolicies directly.
    const sample = samplePolicy(feed);
    const cpuBefore = process.cpuUsage();
    let t = performance.now();
    await parallel(resources, 16, (r) =>
      admin.apply({ ...sample, metadata: { ...sample.metadata, name: r.metadata.name } }),
    );
    const baselineMs = performance.now() - t;
    const cpu = process.cpuUsage(cpuBefore);
    const baselineCpuMsPerObject = (cpu.user + cpu.system) / 1000 / n;
    // They carry the operator's labels: removed, so its cache holds only what it owns.
    await admin.request(
      'DELETE',
      await admin.path({ apiVersion: sample.apiVersion, kind: sample.kind, namespace: 'bench-baseline' }),
    );

    const op = (operator = await OperatorProcess.start({
      kubeconfig: info.kubeconfigs.operator,
      namespace: 'acr-access-system',
      feedConfigMap: 'acr-access-system/service-tags',
      nodeOptions,
    }));
    await sleep(1000);
    const idleMiB = await op.rssMiB('VmRSS');
    const idleCpu = await op.cpuSeconds();
    const requestsBefore = await op.metric('rest_client_requests_total');

    // Progress is watched, not polled: listing every resource four times a second would load the API server (and
    // these two cores) far more than the operator does.
    const ready = await watchCount(admin, 'acraccess.io/v1alpha1', 'AcrAccess', undefined, (r) =>
      (r.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some(
        (c) => c.type === 'Ready' && c.status === 'True',
      ),
    );
    const updated = await watchCount(
      admin,
      'networking.k8s.io/v1',
      'NetworkPolicy',
      'app.kubernetes.io/managed-by=acr-access-operator',
      (np) => JSON.stringify(np.spec).includes('20.99.0.0/24'),
    );
    watches.push(ready.reflector, updated.reflector);
    t = performance.now();
    await parallel(resources, 16, (r) => admin.apply(r));
    await op.until('all Ready', async () => ready.count() === n);
    const convergeMs = performance.now() - t;
    const convergedCpu = await op.cpuSeconds();
    const mib = async (name: string) => (await op.metric(name)) / 1048576;
    const atConverged = {
      rss: await op.rssMiB('VmRSS'),
      heapTotal: await mib('nodejs_heap_size_total_bytes'),
      heapUsed: await mib('nodejs_heap_size_used_bytes'),
      newSpace: await mib('nodejs_heap_space_size_total_bytes{space="new"}'),
      external: await mib('nodejs_external_memory_bytes'),
    };
    await sleep(2000);
    const requests = (await op.metric('rest_client_requests_total')) - requestsBefore;
    if (process.env.BENCH_SNAPSHOT_SIGNAL) {
      op.signal(process.env.BENCH_SNAPSHOT_SIGNAL as NodeJS.Signals);
      await sleep(15_000);
    }
    const reconcilesBefore = await op.metric('controller_runtime_reconcile_total');
    const feedCpuBefore = await op.cpuSeconds();

    // A feed change touching only East US tags: half the resources are affected.
    const next = deriveFeed(feed, 377, { add: { 'AzureContainerRegistry.EastUS': ['20.99.0.0/24'] } });
    const affected = Math.ceil(n / 2);
    t = performance.now();
    await putFeed(admin, 'acr-access-system', 'service-tags', JSON.stringify(next));
    await op.until('feed change applied', async () => updated.count() === affected);
    const feedMs = performance.now() - t;
    await sleep(2000);
    const feedReconciles = (await op.metric('controller_runtime_reconcile_total')) - reconcilesBefore;
    const feedCpuMsPerResource = (((await op.cpuSeconds()) - feedCpuBefore) * 1000) / affected;
    await sleep(SETTLE_MS);
    return {
      label,
      n,
      capped,
      baselineMs,
      baselineCpuMsPerObject,
      convergeMs,
      feedMs,
      feedReconciles,
      requestsPerResource: requests / n,
      cpuMsPerResource: ((convergedCpu - idleCpu) * 1000) / n,
      feedCpuMsPerResource,
      idleMiB,
      peakMiB: await op.rssMiB('VmHWM'),
      settledMiB: await op.rssMiB('VmRSS'),
      atConverged,
    };
  } finally {
    await Promise.all(watches.map((w) => w.stop()));
    await operator?.stop();
    await plane.stop();
  }
}

function print(r: Result): void {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const direct = `writing ${r.n} NetworkPolicies directly`;
  console.log(`controller, ${r.label}:`);
  report(`  time to converge`, r.convergeMs, direct, r.baselineMs);
  report(`  feed change to all ${Math.ceil(r.n / 2)} affected policies updated`, r.feedMs, direct, r.baselineMs);
  console.log(`  reconciles for the feed change: ${r.feedReconciles} (affected resources: ${Math.ceil(r.n / 2)})`);
  report(
    `  operator CPU per resource to converge`,
    r.cpuMsPerResource,
    'client CPU per policy written',
    r.baselineCpuMsPerObject,
  );
  console.log(`  operator CPU per affected resource for the feed change: ${r.feedCpuMsPerResource.toFixed(1)} ms`);
  console.log(
    `  API requests per resource to converge: ${r.requestsPerResource.toFixed(2)} = ${(r.requestsPerResource / 3).toFixed(2)}x the minimum of 3 (policy, status, event)`,
  );
  console.log(
    `  operator RSS: idle ${r.idleMiB.toFixed(0)} MiB; peak ${r.peakMiB.toFixed(0)} MiB = ${(r.peakMiB / r.idleMiB).toFixed(2)}x idle = ${(r.peakMiB / LIMIT_MIB).toFixed(2)}x a ${LIMIT_MIB} Mi limit; settled ${r.settledMiB.toFixed(0)} MiB = ${(r.settledMiB / r.idleMiB).toFixed(2)}x idle`,
  );
  const m = r.atConverged;
  console.log(
    `  at convergence: RSS ${m.rss.toFixed(0)} MiB = V8 heap ${m.heapTotal.toFixed(0)} MiB (${m.heapUsed.toFixed(0)} used, new space ${m.newSpace.toFixed(0)}) + external ${m.external.toFixed(0)} MiB + the rest (code, stacks, malloc) ${(m.rss - m.heapTotal - m.external).toFixed(0)} MiB`,
  );
  console.log(`  (converge ${s(r.convergeMs)}, feed change ${s(r.feedMs)}, direct writes ${s(r.baselineMs)})`);
}

export async function runControllerBenchmark(): Promise<void> {
  const extra = process.env.BENCH_OPERATOR_NODE_OPTIONS ?? '';
  const results: Result[] = [];
  for (const n of SIZES) {
    results.push(await runOnce(`N=${n}${extra ? `, NODE_OPTIONS=${extra}` : ''}`, n, extra));
    print(results.at(-1)!);
  }
  // The Helm-chart-sized run (BENCH_LIMITED_N=0 skips it); an operator that dies under the cap (out of memory) is
  // a result to report.
  const limited = await (LIMITED_N > 0 ? runOnce : async () => undefined)(
    `N=${LIMITED_N} under ${LIMITED_NODE_OPTIONS} (a ${LIMIT_MIB} Mi container)`,
    LIMITED_N,
    `${extra} ${LIMITED_NODE_OPTIONS}`.trim(),
    true,
  ).catch((err: unknown) => {
    console.log(`controller, N=${LIMITED_N} under ${LIMITED_NODE_OPTIONS}: FAILED: ${String(err)}`);
    return undefined;
  });
  if (limited) {
    print(limited);
    results.push(limited);
    const free = results.find((r) => r.n === LIMITED_N && !r.capped);
    if (free)
      report(`  capped heap: time to converge`, limited.convergeMs, 'the same N unconstrained', free.convergeMs);
  }

  console.log('controller, growth with N (ratios as above):');
  console.log('  N | converge / direct | CPU ms per resource | idle MiB | peak MiB (x idle) | settled MiB (x idle)');
  for (const r of results)
    console.log(
      `  ${r.n}${r.capped ? ' capped' : ''} | ${(r.convergeMs / r.baselineMs).toFixed(2)}x | ${r.cpuMsPerResource.toFixed(1)} | ${r.idleMiB.toFixed(0)} | ${r.peakMiB.toFixed(0)} (${(r.peakMiB / r.idleMiB).toFixed(2)}x) | ${r.settledMiB.toFixed(0)} (${(r.settledMiB / r.idleMiB).toFixed(2)}x)`,
    );
}
