import os from 'node:os';
import type { Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { DnsResolver } from '../addresses/dns.js';
import { ConfigMapSource, FileSource, type ServiceTagSource } from '../addresses/sources.js';
import { SpecEndpointResolver } from '../endpoints/endpoints.js';
import { BUILT_IN_BACKENDS, BackendRegistry, type ConcreteBackend } from '../backends/registry.js';
import type { CloudName } from '../endpoints/clouds.js';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import { startHealthServer } from '../observability/health.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { DnsCache } from './dns-cache.js';
import { FeedManager, LastGoodFeedStore } from './feeds.js';
import { Manager } from './manager.js';

export const FIELD_MANAGER = 'acr-access-operator';

export interface OperatorOptions {
  kubeconfig?: string;
  context?: string;
  /** The operator's own namespace: the last good feed is kept there. */
  namespace: string;
  /** `embedded`, `file:<path>` or `configmap:<namespace>/<name>[:<key>]`. */
  serviceTags: string;
  /** The cloud the `serviceTags` source publishes; a feed for another cloud is refused (FeedWrongCloud). */
  serviceTagsCloud: CloudName;
  /** Backends the operator may use at all; `Auto` in a spec picks among those the cluster serves. */
  backends: ConcreteBackend[];
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
}

export const DEFAULTS: Omit<OperatorOptions, 'namespace'> = {
  serviceTags: 'embedded',
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
  stop(graceMs?: number): Promise<void>;
}

export function parseFeedSource(
  spec: string,
  client: KubeClient,
): { source?: ServiceTagSource; configMap?: { namespace: string; name: string } } {
  if (spec === 'embedded') return {};
  if (spec.startsWith('file:')) return { source: new FileSource(spec.slice(5)) };
  const m = /^configmap:([a-z0-9-]+)\/([a-z0-9.-]+)(?::(.+))?$/.exec(spec);
  if (m) {
    const [, namespace, name, key] = m as unknown as [string, string, string, string | undefined];
    return {
      source: new ConfigMapSource(client, namespace, name, key ?? 'ServiceTags.json'),
      configMap: { namespace, name },
    };
  }
  throw new Error(`--service-tags must be embedded, file:<path> or configmap:<namespace>/<name>[:<key>], not ${spec}`);
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
  const client = new KubeClient(kc, {
    fieldManager: FIELD_MANAGER,
    onResponse: (method, code) => metrics.restRequests.inc({ method, code: String(code) }),
  });
  const { source, configMap } = parseFeedSource(opts.serviceTags, client);
  const feeds = new FeedManager({
    ...(source ? { source } : {}),
    sourceCloud: opts.serviceTagsCloud,
    store: new LastGoodFeedStore(client, opts.namespace),
    maxShrink: opts.maxFeedShrink,
    logger,
  });
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
    endpoints: new SpecEndpointResolver(),
    backends: new BackendRegistry(BUILT_IN_BACKENDS, opts.backends),
    logger,
    metrics,
    config: {
      graceMs: opts.graceMs,
      allowedRegistries: opts.allowedRegistries,
      watchedNamespaces: opts.watchedNamespaces,
      operatorNamespace: opts.namespace,
      noDataRetryMs: 60_000,
      workers: opts.workers,
      resyncMs: opts.resyncMs,
      refreshIntervalMs: opts.refreshIntervalMs,
      instance: opts.instance ?? os.hostname(),
      ...(configMap ? { feedConfigMap: configMap } : {}),
      ...(opts.maxBytesPerObject ? { maxBytesPerObject: opts.maxBytesPerObject } : {}),
    },
  });
  let health: Server | undefined;
  if (opts.healthAddress)
    health = await startHealthServer(
      opts.healthAddress,
      { healthy: () => manager.healthy(), ready: () => manager.ready() },
      metrics,
    );
  await manager.start();
  return {
    manager,
    metrics,
    client,
    async stop(graceMs?: number) {
      await manager.stop(graceMs);
      await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
    },
  };
}
