// ARM requests per refresh (issue 10): 100 ClusterAcrAccess over 10 registries (10 each) named by resource id, each
// with one NSG target (10 NSGs, each shared by 10 resources of 10 different registries) and every fourth with a
// rule collection group in one of 2 firewall policies, on the real control plane, the operator in this process
// against the local HTTPS fake ARM (real SDK clients, real workload identity). Counted from the fake's request log:
//   (a) initial convergence, with a refresh interval far longer than the run;
//   (b) a restarted operator's first pass over the converged resources (what a rollout costs ARM);
//   (c) steady state: a short refresh interval and a 1 s resync, over a few refresh intervals.
// Measured properties (a run that breaks one prints FAIL and exits non-zero; there is no wall-clock assertion):
// registry reads happen once per registry per refresh interval, not once per resource, and nothing is written to
// ARM once converged.
import type { AnyAcrAccess, Condition } from '../src/api/types.js';
import { resourceKey } from '../src/controller/reconcile.js';
import { DEFAULTS, startOperator, type Operator, type OperatorOptions } from '../src/controller/operator.js';
import { KubeClient } from '../src/kube/client.js';
import { loadKubeConfig } from '../src/kube/config.js';
import type { KubeObject } from '../src/kube/types.js';
import { silentLogger } from '../src/observability/logger.js';
import { Metrics } from '../src/observability/metrics.js';
import { ControlPlane } from '../test/controlplane/controlplane.js';
import { SUBSCRIPTION, startFakeArm, type FakeArmHarness, type FakeRegistry } from '../test/support/arm/index.js';
import type { LoggedRequest } from '../test/support/arm/server.js';
import { FakeNetwork } from '../test/support/arm/network.js';
import { bindOperator, installProject } from '../test/support/install.js';

const REGISTRIES = 10;
const RESOURCES = Number(process.env.BENCH_ARM_N ?? 100);
const NSGS = 10;
const POLICIES = 2;
/** Every FIREWALL_EVERY-th resource also has a rule collection group. */
const FIREWALL_EVERY = 4;
const REFRESH_MS = Number(process.env.BENCH_ARM_REFRESH_MS ?? 2000);
const RESYNC_MS = Number(process.env.BENCH_ARM_RESYNC_MS ?? 1000);
/** Refresh intervals the steady-state window spans. */
const INTERVALS = Number(process.env.BENCH_ARM_INTERVALS ?? 3);
const OPERATOR_NAMESPACE = 'acr-access-system';
const WORKLOADS = 'bench-workloads';
const CONVERGE_TIMEOUT_MS = 900_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** 4 geo-replicated with data endpoints, 2 single-region with data endpoints, 2 Premium plain, 2 Standard. */
function registries(): FakeRegistry[] {
  const homes = [
    'eastus',
    'westeurope',
    'westus2',
    'northeurope',
    'southeastasia',
    'japaneast',
    'uksouth',
    'centralus',
    'australiaeast',
    'canadacentral',
  ];
  const replicas: Record<number, string[]> = {
    0: ['eastus', 'westeurope', 'southeastasia'],
    1: ['westeurope', 'northeurope', 'eastus'],
    2: ['westus2', 'eastus'],
    3: ['northeurope', 'westeurope'],
  };
  return homes.slice(0, REGISTRIES).map((location, i) => {
    const name = `benchreg${i}`;
    const loginServer = `${name}.azurecr.io`;
    const regions = replicas[i] ?? [location];
    const dde = i < 6;
    return {
      subscriptionId: SUBSCRIPTION,
      resourceGroup: 'rg-acr',
      name,
      location,
      loginServer,
      sku: i < 8 ? 'Premium' : 'Standard',
      dataEndpointEnabled: dde,
      ...(dde ? { dataEndpointHostNames: regions.map((r) => `${name}.${r}.data.azurecr.io`) } : {}),
      replications: i < 8 ? regions : [],
    };
  });
}

/** What one logged ARM request was, for the table. */
const KINDS = [
  ['GET registry', 'GET', /\/registries\/[^/]+$/i],
  ['GET replications', 'GET', /\/registries\/[^/]+\/replications$/i],
  ['GET NSG', 'GET', /\/networkSecurityGroups\/[^/]+$/i],
  ['GET rule collection group', 'GET', /\/ruleCollectionGroups\/[^/]+$/i],
  ['write security rule (PUT/DELETE)', 'WRITE', /\/securityRules\/[^/]+$/i],
  ['write rule collection group (PUT/DELETE)', 'WRITE', /\/ruleCollectionGroups\/[^/]+$/i],
] as const;
type Kind = (typeof KINDS)[number][0] | 'other ARM' | 'total ARM' | 'ARM writes';

function classify(requests: LoggedRequest[]): Record<Kind, number> {
  const out = Object.fromEntries(
    [...KINDS.map((k) => k[0]), 'other ARM', 'total ARM', 'ARM writes'].map((k) => [k, 0]),
  );
  for (const r of requests) {
    // The token endpoint is Entra, not ARM.
    if (!r.path.startsWith('/subscriptions/')) continue;
    out['total ARM']!++;
    if (r.method !== 'GET') out['ARM writes']!++;
    const kind = KINDS.find(([, m, p]) => (m === 'GET' ? r.method === 'GET' : r.method !== 'GET') && p.test(r.path));
    out[kind ? kind[0] : 'other ARM']!++;
  }
  return out as Record<Kind, number>;
}

function resources(regs: FakeRegistry[], nsgs: string[], policies: string[]): KubeObject[] {
  return Array.from({ length: RESOURCES }, (_, k) => {
    const reg = regs[k % regs.length]!;
    const firewall = k % FIREWALL_EVERY === 0;
    return {
      apiVersion: 'acraccess.io/v1alpha1',
      kind: 'ClusterAcrAccess',
      metadata: { name: `arm-${k}` },
      spec: {
        registry: {
          resourceId: `/subscriptions/${reg.subscriptionId}/resourceGroups/${reg.resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${reg.name}`,
        },
        addressSources: ['ServiceTags'],
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': WORKLOADS } },
        azure: {
          networkSecurityGroups: [{ resourceId: nsgs[Math.floor(k / (RESOURCES / NSGS)) % NSGS]!, priority: 200 }],
          ...(firewall
            ? {
                firewallPolicy: {
                  resourceId: policies[Math.floor(k / FIREWALL_EVERY) % POLICIES]!,
                  ruleCollectionGroup: `acr-bench-${k}`,
                  priority: 200 + k,
                  sourceAddresses: ['10.224.0.0/16'],
                },
              }
            : {}),
        },
      },
    };
  });
}

type Cluster = KubeObject & { status?: { observedGeneration?: number; conditions?: Condition[] } };
const condition = (r: Cluster, type: string) => r.status?.conditions?.find((c) => c.type === type);

/** How many resources are Ready and AzureApplied for their current generation. */
async function converged(admin: KubeClient): Promise<{ done: number; failing: string[] }> {
  const { items } = await admin.list<Cluster>('acraccess.io/v1alpha1', 'ClusterAcrAccess');
  let done = 0;
  const failing: string[] = [];
  for (const r of items) {
    if (!r.metadata.name.startsWith('arm-')) continue;
    const current = r.status?.observedGeneration === r.metadata.generation;
    const azure = condition(r, 'AzureApplied');
    if (current && azure?.status === 'True' && condition(r, 'Ready')?.status === 'True') done++;
    else if (azure?.status === 'False') failing.push(`${r.metadata.name}: ${azure.reason}: ${azure.message}`);
  }
  return { done, failing };
}

/** Waits for the queue to drain twice with a pause between (status writes echo back as watch events). */
async function settle(operator: Operator): Promise<void> {
  await operator.manager.idle();
  await sleep(1000);
  await operator.manager.idle();
}

interface Phase {
  label: string;
  counts: Record<Kind, number>;
  reconciles: number;
  /** Reconciles of the resources that have a firewall policy target. */
  firewallReconciles: number;
  ms: number;
}

export interface ArmBenchResult {
  ok: boolean;
  failures: string[];
}

export async function runArmBenchmark(): Promise<ArmBenchResult> {
  const plane = new ControlPlane(() => undefined);
  const info = await plane.start();
  const admin = new KubeClient(loadKubeConfig({ kubeconfig: info.kubeconfigs.admin }), { fieldManager: 'bench' });
  let arm: FakeArmHarness | undefined;
  let operator: Operator | undefined;
  try {
    await installProject(admin);
    await sleep(1500);
    admin.discovery.invalidate();
    for (const name of [OPERATOR_NAMESPACE, WORKLOADS])
      await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await bindOperator(admin, OPERATOR_NAMESPACE);

    arm = await startFakeArm();
    const fake = arm.fake;
    const net = FakeNetwork.attach(fake);
    const regs = registries();
    for (const r of regs) fake.putRegistry(r);
    const nsgs = Array.from({ length: NSGS }, (_, i) =>
      net.putNsg({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-aks', name: `bench-nodes-${i}` }),
    );
    const policies = Array.from({ length: POLICIES }, (_, i) =>
      net.putFirewallPolicy({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-hub', name: `bench-hub-${i}` }),
    );
    const objects = resources(regs, nsgs, policies);
    const firewallKeys = new Set(
      objects
        .filter((o) => (o.spec as { azure: { firewallPolicy?: unknown } }).azure.firewallPolicy)
        .map((o) => resourceKey(o as AnyAcrAccess)),
    );
    const settings = arm.settings();
    const start = (over: Partial<OperatorOptions>) =>
      startOperator(
        {
          ...DEFAULTS,
          namespace: OPERATOR_NAMESPACE,
          watchedNamespaces: [WORKLOADS],
          serviceTags: ['embedded'],
          dns: 'off',
          backends: ['NetworkPolicy'],
          workers: 4,
          azure: settings,
          ...over,
        },
        silentLogger(),
        loadKubeConfig({ kubeconfig: info.kubeconfigs.operator }),
        new Metrics(false),
      );
    /**
     * Runs `during` (which may start the operator), then returns what the fake logged and the operator reconciled
     * meanwhile (counted from the operator running at the end, from its start if it started during the phase).
     */
    const phase = async (label: string, during: () => Promise<void>): Promise<Phase> => {
      const from = fake.requests.length;
      const running = operator;
      const before = new Map(operator?.manager.reconcileCounts ?? []);
      const t = performance.now();
      await during();
      const ms = performance.now() - t;
      const counted = operator === running ? before : new Map<string, number>();
      let reconciles = 0;
      let firewallReconciles = 0;
      for (const [key, n] of operator!.manager.reconcileCounts) {
        const d = n - (counted.get(key) ?? 0);
        reconciles += d;
        if (firewallKeys.has(key)) firewallReconciles += d;
      }
      return { label, counts: classify(fake.requests.slice(from)), reconciles, firewallReconciles, ms };
    };
    const restartWith = async (over: Partial<OperatorOptions>) => {
      await operator?.stop();
      operator = undefined;
      operator = await start(over);
    };
    const long = { refreshIntervalMs: 3_600_000, resyncMs: 3_600_000 };

    // (a) Initial convergence: the refresh interval and resync are longer than the run.
    const converge = await phase('(a) initial convergence', async () => {
      await restartWith(long);
      for (const o of objects) await admin.apply(o);
      const t = performance.now();
      for (;;) {
        const { done, failing } = await converged(admin);
        if (done === RESOURCES) break;
        if (performance.now() - t > CONVERGE_TIMEOUT_MS)
          throw new Error(`${done}/${RESOURCES} converged; failing: ${failing.slice(0, 3).join('; ')}`);
        await sleep(1000);
      }
      await settle(operator!);
    });
    const rulesBefore = new Map(nsgs.map((id) => [id, JSON.stringify(net.rules(id))]));

    // (b) A restarted operator's first pass over the converged resources (no resync or refresh meanwhile).
    const restart = await phase('(b) restart, first pass', async () => {
      await restartWith(long);
      while (operator!.manager.stats.reconciles < RESOURCES) await sleep(100);
      await settle(operator!);
    });

    // (c) Steady state with a short refresh and resync: after the first pass and one refresh interval of warm-up,
    // INTERVALS refresh intervals are counted.
    await restartWith({ refreshIntervalMs: REFRESH_MS, resyncMs: RESYNC_MS });
    while (operator!.manager.reconcileCounts.size < RESOURCES) await sleep(100);
    await sleep(REFRESH_MS);
    const steadyFrom = fake.requests.length;
    const steady = await phase(`(c) steady state, ${INTERVALS} x ${REFRESH_MS} ms`, () =>
      sleep(INTERVALS * REFRESH_MS),
    );
    const readsPerRegistry = regs.map(
      (r) =>
        fake.requests
          .slice(steadyFrom)
          .filter((q) => q.method === 'GET' && new RegExp(`/registries/${r.name}$`, 'i').test(q.path)).length,
    );
    const rulesChanged = nsgs.filter((id) => JSON.stringify(net.rules(id)) !== rulesBefore.get(id)).length;
    const ruleCount = nsgs.reduce((n, id) => n + Object.keys(net.rules(id)).length, 0);
    const groupCount = policies.reduce((n, id) => n + net.policies.get(id.toLowerCase())!.groups.size, 0);

    // Report.
    const phases = [converge, restart, steady];
    console.log(
      `ARM requests, ${RESOURCES} ClusterAcrAccess over ${regs.length} registries (8 Premium, 4 geo-replicated, 6 with data endpoints), ` +
        `${NSGS} shared NSGs (${RESOURCES / NSGS} resources each), ${firewallKeys.size} rule collection groups in ${POLICIES} firewall policies; ` +
        `refresh ${REFRESH_MS} ms, resync ${RESYNC_MS} ms in (b) and (c):`,
    );
    console.log(`  what | ${phases.map((p) => p.label).join(' | ')} | (c) per refresh interval`);
    const rows: Kind[] = [...KINDS.map((k) => k[0]), 'other ARM', 'total ARM', 'ARM writes'];
    for (const row of rows) {
      const perInterval = (steady.counts[row] / INTERVALS).toFixed(1);
      console.log(`  ${row} | ${phases.map((p) => p.counts[row]).join(' | ')} | ${perInterval}`);
    }
    console.log(
      `  reconciles | ${phases.map((p) => p.reconciles).join(' | ')} | ${(steady.reconciles / INTERVALS).toFixed(1)}`,
    );
    console.log(`  (took ${phases.map((p) => `${(p.ms / 1000).toFixed(1)} s`).join(', ')})`);
    console.log(
      `  in Azure after convergence: ${ruleCount} security rules in ${NSGS} NSGs, ${groupCount} rule collection groups`,
    );

    const per = (n: number, d: number) => (d ? (n / d).toFixed(2) : 'n/a');
    const c = converge.counts;
    console.log('ARM ratios:');
    console.log(
      `  (a) convergence: registry reads / registries = ${per(c['GET registry'], regs.length)}; writes per resource = ${per(c['ARM writes'], RESOURCES)}; NSG GETs per security rule written = ${per(c['GET NSG'], c['write security rule (PUT/DELETE)'])}`,
    );
    const r = restart.counts;
    console.log(
      `  (b) restart pass: registry reads / registries = ${per(r['GET registry'], regs.length)}; ARM writes = ${r['ARM writes']}; NSG GETs per reconcile = ${per(r['GET NSG'], restart.reconciles)}; rule collection group GETs per firewall-policy reconcile = ${per(r['GET rule collection group'], restart.firewallReconciles)}`,
    );
    const s = steady.counts;
    const readsPerRefresh = s['GET registry'] / INTERVALS;
    console.log(
      `  (c) steady state: registry reads per refresh interval = ${readsPerRefresh.toFixed(1)} = ${(readsPerRefresh / regs.length).toFixed(2)} per registry ` +
        `= ${(readsPerRefresh / RESOURCES).toFixed(2)} per resource (a read per resource would be >= 1); reads per registry over the window: min ${Math.min(...readsPerRegistry)}, max ${Math.max(...readsPerRegistry)} (${INTERVALS} intervals); ` +
        `ARM writes = ${s['ARM writes']}`,
    );
    console.log(
      `  (c) per resync: ${per(steady.reconciles, RESOURCES)} passes over ${RESOURCES} resources; NSG GETs per resource per resync = ${per(s['GET NSG'], steady.reconciles)} ` +
        `(${per(s['GET NSG'], (steady.reconciles / RESOURCES) * NSGS)} per NSG per resync); rule collection group GETs per firewall-policy resource per resync = ${per(s['GET rule collection group'], steady.firewallReconciles)}`,
    );

    // The measured properties.
    const failures: string[] = [];
    // A cache that honours the interval reads a registry at most floor(window / interval) + 1 times in the window.
    const allowed = Math.floor(INTERVALS) + 1;
    const over = regs.filter((_, i) => readsPerRegistry[i]! > allowed).map((g) => g.name);
    if (over.length)
      failures.push(`registry reads scale with resources: ${over.join(', ')} read more than ${allowed} times`);
    if (c['GET registry'] !== regs.length)
      failures.push(`convergence read registries ${c['GET registry']} times, not once each (${regs.length})`);
    if (r['GET registry'] > regs.length)
      failures.push(`the restart pass read registries ${r['GET registry']} times for ${regs.length} registries`);
    // Not re-read at all is a failure too, once the resync kept up (a pass per refresh interval at least).
    const unread = regs.filter((_, i) => readsPerRegistry[i] === 0).map((g) => g.name);
    if (INTERVALS >= 2 && steady.reconciles >= INTERVALS * RESOURCES && unread.length)
      failures.push(`not re-read within ${INTERVALS} refresh intervals: ${unread.join(', ')}`);
    if (r['ARM writes'] || s['ARM writes'])
      failures.push(`ARM writes at steady state: ${r['ARM writes']} on restart, ${s['ARM writes']} in the window`);
    if (rulesChanged) failures.push(`${rulesChanged} NSGs' rules changed after convergence`);
    for (const f of failures) console.log(`ARM benchmark FAIL: ${f}`);
    if (!failures.length)
      console.log(
        'ARM benchmark PASS: one registry read per registry per refresh (not per resource); zero ARM writes at steady state',
      );
    return { ok: failures.length === 0, failures };
  } finally {
    await operator?.stop();
    await arm?.stop();
    await plane.stop();
  }
}
