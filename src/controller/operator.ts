import os from 'node:os';
import type { Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { DnsResolver } from '../addresses/dns.js';
import { CombinedServiceTagSource, type CombinedSourceOptions } from '../addresses/combined-source.js';
import { ConfigMapSource, EmbeddedSnapshotSource, FileSource, type ServiceTagSource } from '../addresses/sources.js';
import { SpecEndpointResolver, type EndpointResolver } from '../endpoints/endpoints.js';
import type { AzureConnection, AzureSettings } from '../azure/connect.js';
import { BUILT_IN_BACKENDS, BackendRegistry, type ConcreteBackend } from '../backends/registry.js';
import type { CloudName } from '../endpoints/clouds.js';
import { KubeClient, USER_AGENT } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import { startHealthServer } from '../observability/health.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { DnsCache } from './dns-cache.js';
import { FeedManager, LastGoodFeedStore, type FeedManagerOptions, type FeedState } from './feeds.js';
import { LeaderElector, leaderIdentity, type LeaderTimings } from './leader.js';
import { Manager } from './manager.js';

export const FIELD_MANAGER = 'acr-access-operator';

export interface OperatorOptions {
  kubeconfig?: string;
  context?: string;
  /** The operator's own namespace: the last good feed is kept there. */
  namespace: string;
  /**
   * `embedded`, `file:<path>`, `configmap:<namespace>/<name>[:<key>]` or `arm:<location>` (needs `azure`). Several:
   * all are read at each refresh and merged per tag, the highest per-tag change number winning (combined-source.ts).
   */
  serviceTags: string | readonly string[];
  /** The cloud the `serviceTags` source publishes; a feed for another cloud is refused (FeedWrongCloud). */
  serviceTagsCloud: CloudName;
  /**
   * Azure Resource Manager (--azure-subscription, --azure-cloud): registries named by spec.registry.resourceId are
   * discovered, and `serviceTags: arm:<location>` reads the tags there. Off when absent; the Azure SDKs are then
   * never loaded.
   */
  azure?: AzureSettings;
  /** Backends the operator may use at all; `Auto` in a spec picks among those the cluster serves. */
  backends: ConcreteBackend[];
  /** How often to re-detect which backends the cluster serves (default 60 s). */
  detectIntervalMs?: number;
  refreshIntervalMs: number;
  graceMs: number;
  maxFeedShrink: number;
  allowedRegistries: string[];
  watchedNamespaces: string[];
  workers: number;
  resyncMs: number;
  /** `off`, `system`, or resolver addresses. */
  dns: 'off' | 'system' | string[];
  dnsTtlFloorMs: number;
  dnsTtlCeilingMs: number;
  healthAddress?: string;
  maxBytesPerObject?: number;
  instance?: string;
  /**
   * Leader election on a coordination.k8s.io/v1 Lease; off when absent (local use, the in-process test operator).
   * Only the leader runs the controller; a follower serves /healthz, /readyz and /metrics and waits.
   */
  leaderElection?: { namespace: string; name: string; timings?: Partial<LeaderTimings> };
  /**
   * Leadership lost: the controller is already told to stop; the default logs and exits 1 at once (the process
   * restarts and competes again), as controller-runtime does.
   */
  onLeadershipLost?: (reason: string) => void;
}

export const DEFAULTS: Omit<OperatorOptions, 'namespace'> = {
  serviceTags: ['embedded'],
  serviceTagsCloud: 'AzurePublicCloud',
  backends: BUILT_IN_BACKENDS.map((b) => b.name),
  refreshIntervalMs: 60 * 60_000,
  graceMs: 7 * 86_400_000,
  maxFeedShrink: 0.5,
  allowedRegistries: [],
  watchedNamespaces: [],
  workers: 4,
  resyncMs: 10 * 60_000,
  dns: 'system',
  dnsTtlFloorMs: 30_000,
  dnsTtlCeilingMs: 60 * 60_000,
};

export interface Operator {
  manager: Manager;
  metrics: Metrics;
  client: KubeClient;
  /** `<instance>_<uuid>`: the lease holder identity, also in every request's User-Agent. */
  identity: string;
  leader?: LeaderElector;
  /** Stops the controller (in-flight reconciles finish), then releases the lease if this process holds it. */
  stop(graceMs?: number): Promise<void>;
}

/** Reports the feed every reconcile uses, the embedded snapshot included (it emits no change event). */
class MeteredFeedManager extends FeedManager {
  constructor(
    opts: FeedManagerOptions,
    private readonly metrics: Metrics,
  ) {
    super(opts);
    this.on('change', (cloud, _old, next) => metrics.observeFeed(cloud, next.feed));
    metrics.watchFeedProblem(() => this.refused);
  }

  override async feedFor(cloud: CloudName): Promise<FeedState | undefined> {
    const state = await super.feedFor(cloud);
    if (state) this.metrics.observeFeed(cloud, state.feed);
    return state;
  }
}

export function parseFeedSource(
  spec: string | readonly string[],
  client: KubeClient,
  azure?: Pick<AzureConnection, 'serviceTagSource'>,
  /** For several sources: the cloud they all publish (`embedded` is its snapshot) and where to log the merge. */
  combine: CombinedSourceOptions = {},
): { source?: ServiceTagSource; configMap?: { namespace: string; name: string } } {
  if (typeof spec !== 'string') {
    if (spec.length === 1) return parseFeedSource(spec[0]!, client, azure);
    if (!spec.length) throw new Error('--service-tags needs at least one source');
    const parsed = spec.map((s): ReturnType<typeof parseFeedSource> =>
      s === 'embedded' ? { source: new EmbeddedSnapshotSource(combine.cloud) } : parseFeedSource(s, client, azure),
    );
    // The manager watches one ConfigMap; other ConfigMap sources are read again at each refresh interval.
    const configMap = parsed.find((p) => p.configMap)?.configMap;
    const sources = parsed.map((p, i) => ({ name: spec[i]!, source: p.source! }));
    return { source: new CombinedServiceTagSource(sources, combine), ...(configMap ? { configMap } : {}) };
  }
  if (spec === 'embedded') return {};
  if (spec.startsWith('file:')) return { source: new FileSource(spec.slice(5)) };
  if (spec.startsWith('arm:')) {
    const location = spec.slice(4);
    // The location is a path segment of the request: an ARM location name, nothing else.
    if (!/^[a-z][a-z0-9]{1,39}$/.test(location))
      throw new Error(`--service-tags arm:<location> needs an ARM location name such as eastus, not ${location}`);
    if (!azure) throw new Error('--service-tags arm:<location> needs Azure Resource Manager: set --azure-subscription');
    return { source: azure.serviceTagSource(location) };
  }
  const m = /^configmap:([a-z0-9-]+)\/([a-z0-9.-]+)(?::(.+))?$/.exec(spec);
  if (m) {
    const [, namespace, name, key] = m as unknown as [string, string, string, string | undefined];
    return {
      source: new ConfigMapSource(client, namespace, name, key ?? 'ServiceTags.json'),
      configMap: { namespace, name },
    };
  }
  throw new Error(
    `--service-tags must be embedded, file:<path>, configmap:<namespace>/<name>[:<key>] or arm:<location>, not ${spec}`,
  );
}

/** The Azure side, loaded on demand: a Kubernetes-only operator never loads the Azure SDKs. */
async function connectAzure(settings: AzureSettings, userAgent: string, logger: Logger): Promise<AzureConnection> {
  const { connectAzure: connect } = await import('../azure/connect.js');
  const azure = connect(settings, { userAgent });
  logger.info(
    { cloud: azure.cloud.name, subscription: settings.subscriptionId, credential: azure.credentialKind },
    'Azure Resource Manager configured: registries named by resource id are discovered',
  );
  return azure;
}

/** Registries by resource id from ARM (read once per refresh interval, shared), the others from the spec. */
function endpointResolver(azure: AzureConnection | undefined, refreshIntervalMs: number): EndpointResolver {
  const spec = new SpecEndpointResolver();
  return azure ? azure.endpointResolver({ fallback: spec, refreshIntervalMs }) : spec;
}

/** Builds and starts the controller; resolves once informers have synced and workers run. */
export async function startOperator(
  opts: OperatorOptions,
  logger: Logger,
  kubeConfig?: KubeConfig,
  metrics = new Metrics(),
): Promise<Operator> {
  const kc =
    kubeConfig ??
    loadKubeConfig({
      ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
      ...(opts.context ? { context: opts.context } : {}),
    });
  const instance = opts.instance ?? os.hostname();
  const identity = leaderIdentity(instance);
  const client = new KubeClient(kc, {
    fieldManager: FIELD_MANAGER,
    onResponse: (method, code) => metrics.restRequests.inc({ method, code: String(code) }),
    // The identity tells replicas apart in the audit log (they share one service account).
    userAgent: `${USER_AGENT} (${identity})`,
  });
  const azure = opts.azure ? await connectAzure(opts.azure, `${USER_AGENT} (${identity})`, logger) : undefined;
  if (
    azure &&
    [opts.serviceTags].flat().some((s) => s.startsWith('arm:')) &&
    opts.serviceTagsCloud !== azure.cloud.name
  ) {
    throw new Error(
      `--service-tags arm: serves ${azure.cloud.name}'s tags (--azure-cloud), but --service-tags-cloud is ${opts.serviceTagsCloud}`,
    );
  }
  const { source, configMap } = parseFeedSource(opts.serviceTags, client, azure, {
    cloud: opts.serviceTagsCloud,
    logger,
  });
  const feeds = new MeteredFeedManager(
    {
      ...(source ? { source } : {}),
      sourceCloud: opts.serviceTagsCloud,
      store: new LastGoodFeedStore(client, opts.namespace),
      maxShrink: opts.maxFeedShrink,
      logger,
    },
    metrics,
  );
  const dns =
    opts.dns === 'off'
      ? undefined
      : new DnsCache(new DnsResolver(opts.dns === 'system' ? {} : { servers: opts.dns }), {
          floorMs: opts.dnsTtlFloorMs,
          ceilingMs: opts.dnsTtlCeilingMs,
          // A data endpoint not in use today may be enabled tomorrow: look again sooner than for a positive answer.
          negativeCeilingMs: Math.min(opts.dnsTtlCeilingMs, 5 * 60_000),
        });
  const manager = new Manager({
    client,
    feeds,
    ...(dns ? { dns } : {}),
    endpoints: endpointResolver(azure, opts.refreshIntervalMs),
    backends: new BackendRegistry(BUILT_IN_BACKENDS, opts.backends),
    ...(azure ? { azure: azure.enforcer({ refreshIntervalMs: opts.refreshIntervalMs }) } : {}),
    logger,
    metrics,
    config: {
      graceMs: opts.graceMs,
      allowedRegistries: opts.allowedRegistries,
      watchedNamespaces: opts.watchedNamespaces,
      operatorNamespace: opts.namespace,
      noDataRetryMs: 60_000,
      armDiscovery: azure !== undefined,
      azure: azure !== undefined,
      workers: opts.workers,
      resyncMs: opts.resyncMs,
      ...(opts.detectIntervalMs ? { detectIntervalMs: opts.detectIntervalMs } : {}),
      refreshIntervalMs: opts.refreshIntervalMs,
      instance,
      ...(configMap ? { feedConfigMap: configMap } : {}),
      ...(opts.maxBytesPerObject ? { maxBytesPerObject: opts.maxBytesPerObject } : {}),
    },
  });
  let leader: LeaderElector | undefined;
  let health: Server | undefined;
  if (opts.healthAddress)
    health = await startHealthServer(
      opts.healthAddress,
      {
        healthy: () => manager.healthy(),
        // Independent of leadership, so a rollout proceeds past followers: the leader is ready once its informers
        // synced; a follower runs none and is ready once it has read the Lease (API server reachable, RBAC right).
        ready: () => (leader && !leader.isLeader ? leader.observedHolder !== undefined : manager.ready()),
      },
      metrics,
    );
  let starting: Promise<void> | undefined;
  let stopping = false;
  if (!opts.leaderElection) await manager.start();
  else {
    const lost =
      opts.onLeadershipLost ??
      ((reason: string) => {
        logger.fatal({ reason }, 'leadership lost; exiting so the process restarts');
        logger.flush();
        process.exit(1);
      });
    leader = new LeaderElector({
      client,
      logger,
      metrics,
      config: { ...opts.leaderElection, identity },
      callbacks: {
        onStartedLeading: () => {
          if (stopping) return;
          starting = manager.start().catch((err: unknown) => {
            logger.error({ err }, 'the controller could not start');
            lost(`the controller could not start: ${(err as Error).message}`);
          });
        },
        // Stop taking work at once; whatever is in flight ends with the process.
        onStoppedLeading: (reason) => {
          void manager.stop(0);
          lost(reason);
        },
      },
    });
    leader.start();
  }
  return {
    manager,
    metrics,
    client,
    identity,
    ...(leader ? { leader } : {}),
    async stop(graceMs?: number) {
      stopping = true;
      // A follower stops polling first, so it cannot become leader while shutting down.
      if (leader && !leader.isLeader) await leader.stop({ release: true });
      await starting;
      await manager.stop(graceMs);
      // The lease is held (and renewed) until the last write has finished, then handed over.
      await leader?.stop({ release: true });
      await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
    },
  };
}
