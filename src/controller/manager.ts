import type { AzureEnforcer } from '../backends/azure/enforcer.js';
import { isDeepStrictEqual } from 'node:util';
import { API_VERSION, KIND_ACR_ACCESS, KIND_CLUSTER_ACR_ACCESS, type AnyAcrAccess } from '../api/types.js';
import { LABELS, MANAGED_BY } from '../backends/ownership.js';
import type { EndpointResolver } from '../endpoints/endpoints.js';
import type { KubeClient } from '../kube/client.js';
import { Reflector, keepIdentity, keepOwnedFields, type ReflectorOptions } from '../kube/reflector.js';
import { objectKey, type KubeObject, type OwnerReference } from '../kube/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { DnsCache } from './dns-cache.js';
import { EventRecorder } from './events.js';
import type { FeedManager, FeedState } from './feeds.js';
import { Reconciler, resourceKey, type ReconcilerConfig } from './reconcile.js';
import type { BackendRegistry } from '../backends/registry.js';
import { OpenApiFields } from '../kube/openapi.js';
import { WorkQueue } from './workqueue.js';

export interface ManagerConfig extends ReconcilerConfig {
  workers: number;
  /** Every resource is reconciled at least this often (drift, retiring expiry); at least 1 s. */
  resyncMs: number;
  /** Re-read a file feed source and refresh expired DNS answers this often. */
  refreshIntervalMs: number;
  /** Watch this ConfigMap (namespace/name) and re-read the feed when it changes. */
  feedConfigMap?: { namespace: string; name: string };
  /** Re-detect which backends the cluster serves this often (default 60 s). */
  detectIntervalMs?: number;
  instance: string;
}

export interface ManagerDeps {
  client: KubeClient;
  feeds: FeedManager;
  dns?: DnsCache;
  endpoints: EndpointResolver;
  backends: BackendRegistry;
  /** Azure-side targets (spec.azure), when the operator runs with Azure Resource Manager. */
  azure?: AzureEnforcer;
  logger: Logger;
  metrics: Metrics;
  config: ManagerConfig;
}

const CONTROLLER = 'acraccess';

/**
 * Runs the controller: informers (handlers only enqueue keys), a work queue, N workers, a periodic resync, and the
 * shared feed and DNS inputs, whose changes enqueue exactly the resources they touch.
 */
export class Manager {
  private readonly queue: WorkQueue;
  private readonly reflectors: Reflector[] = [];
  private readonly resources: Reflector<AnyAcrAccess>[] = [];
  private namespaces!: Reflector;
  private readonly objectsByOwnerUid = new Map<string, Map<string, KubeObject>>();
  private readonly reportedForeign = new Set<string>();
  /** Managed object key → the controller uid it is indexed under (shared by every kind's handlers). */
  private readonly indexedOwner = new Map<string, string>();
  private readonly watchedKinds = new Set<string>();
  private readonly openApi = new OpenApiFields((path) => this.deps.client.request('GET', path));
  /** Managed object key → the resourceVersion the operator's own last write produced. */
  private readonly ownWrites = new Map<string, string>();
  /**
   * Owner key → managed objects (key → resourceVersion) whose watch event arrived while that owner was being
   * reconciled: the echo of a write can arrive before the write's response. Decided when the reconcile ends.
   */
  private readonly heldEchoes = new Map<string, Map<string, string | undefined>>();
  private readonly usedTags = new Map<string, string[]>();
  private readonly usedHosts = new Map<string, string[]>();
  private readonly reconciler: Reconciler;
  private workers: Promise<void>[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  readonly stats = { reconciles: 0, errors: 0 };
  /** Reconciles per key, for tests and benchmarks. */
  readonly reconcileCounts = new Map<string, number>();

  constructor(private readonly deps: ManagerDeps) {
    const { metrics } = deps;
    this.queue = new WorkQueue({
      onMetrics: (event, _key, depth) => {
        metrics.queueDepth.set({ name: CONTROLLER }, depth);
        if (event === 'add') metrics.queueAdds.inc({ name: CONTROLLER });
        if (event === 'retry') metrics.queueRetries.inc({ name: CONTROLLER });
      },
    });
    this.reconciler = new Reconciler({
      client: deps.client,
      feeds: deps.feeds,
      ...(deps.dns ? { dns: deps.dns } : {}),
      endpoints: deps.endpoints,
      recorder: new EventRecorder(deps.client, deps.logger, deps.config.instance),
      backends: deps.backends,
      ...(deps.azure ? { azure: deps.azure } : {}),
      onWritten: (obj) => {
        if (this.ownWrites.size > 100_000) this.ownWrites.clear();
        if (obj.metadata.resourceVersion) this.ownWrites.set(objectKey(obj), obj.metadata.resourceVersion);
      },
      caches: {
        resource: (key) => this.lookup(key),
        ownedObjects: (uid) => [...(this.objectsByOwnerUid.get(uid)?.values() ?? [])],
        namespaces: () => this.namespaces.list(),
      },
      logger: deps.logger,
      metrics: deps.metrics,
      config: deps.config,
    });
  }

  async start(): Promise<void> {
    const { config, feeds, dns, logger } = this.deps;
    feeds.on('change', (cloud, old, next) => this.onFeedChange(old, next, cloud));
    dns?.on('change', (host) => {
      for (const [key, hosts] of this.usedHosts) if (hosts.includes(host)) this.queue.add(key);
    });
    await feeds.start();
    const scopes = config.watchedNamespaces.length ? config.watchedNamespaces : [undefined];
    for (const namespace of scopes) {
      this.resources.push(
        this.watch<AnyAcrAccess>(KIND_ACR_ACCESS, API_VERSION, namespace, undefined, this.resourceHandlers()),
      );
    }
    this.resources.push(
      this.watch<AnyAcrAccess>(KIND_CLUSTER_ACR_ACCESS, API_VERSION, undefined, undefined, this.resourceHandlers()),
    );
    this.namespaces = this.watch('Namespace', 'v1', undefined, undefined, {
      transform: keepIdentity,
      metadataOnly: true,
      onAdd: () => this.enqueueClusterResources(),
      onUpdate: (o, old) =>
        !isDeepStrictEqual(o.metadata.labels, old.metadata.labels) && this.enqueueClusterResources(),
      onDelete: () => this.enqueueClusterResources(),
    });
    if (config.feedConfigMap) {
      const refresh = () => void this.refreshFeed();
      this.watch(
        'ConfigMap',
        'v1',
        config.feedConfigMap.namespace,
        undefined,
        { onAdd: refresh, onUpdate: refresh, onDelete: refresh, transform: keepIdentity, metadataOnly: true },
        `metadata.name=${config.feedConfigMap.name}`,
      );
    }
    await this.detectBackends(false);
    await Promise.all(this.reflectors.map((r) => r.start()));
    this.deps.metrics.maxConcurrent.set({ controller: CONTROLLER }, config.workers);
    this.workers = Array.from({ length: config.workers }, () => this.work());
    const resync = setInterval(() => this.enqueueAll(), Math.max(1000, config.resyncMs));
    const refresh = setInterval(() => {
      void this.refreshFeed();
      void dns?.refreshExpired();
    }, config.refreshIntervalMs);
    // A CNI installed (or removed) while the operator runs is picked up without a restart.
    const detect = setInterval(() => void this.detectBackends(true), Math.max(1000, config.detectIntervalMs ?? 60_000));
    this.timers = [resync, refresh, detect];
    for (const t of this.timers) t.unref();
    logger.info({ workers: config.workers, namespaces: config.watchedNamespaces }, 'controller started');
  }

  /** Stops taking work, lets in-flight reconciles finish (up to `graceMs`), then stops the watches. */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.queue.shutdown();
    const finished = Promise.all(this.workers);
    await Promise.race([finished, new Promise((r) => setTimeout(r, graceMs).unref())]);
    await Promise.all(this.reflectors.map((r) => r.stop()));
    this.deps.logger.info('controller stopped');
  }

  ready(): boolean {
    return this.reflectors.length > 0 && this.reflectors.every((r) => r.hasSynced());
  }

  /** Alive while every watch loop has shown activity within `maxSilenceMs`. */
  healthy(maxSilenceMs = 15 * 60_000): boolean {
    const now = Date.now();
    return !this.stopping && this.reflectors.every((r) => now - r.stats.lastActivity < maxSilenceMs);
  }

  /** Resolves once the queue is empty and no worker is busy (tests and benchmarks). */
  async idle(pollMs = 50): Promise<void> {
    while (this.queue.length > 0 || this.queue.busy > 0) await new Promise((r) => setTimeout(r, pollMs));
  }

  private async work(): Promise<void> {
    const { metrics, logger } = this.deps;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      let succeeded = false;
      metrics.activeWorkers.inc({ controller: CONTROLLER });
      const end = metrics.reconcileTime.startTimer({ controller: CONTROLLER });
      try {
        const result = await this.reconciler.reconcile(key);
        this.stats.reconciles++;
        this.reconcileCounts.set(key, (this.reconcileCounts.get(key) ?? 0) + 1);
        this.queue.forget(key);
        if (result.tags) this.usedTags.set(key, result.tags);
        if (result.hosts) this.usedHosts.set(key, result.hosts);
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        metrics.reconcileTotal.inc({
          controller: CONTROLLER,
          result: result.requeueAfterMs !== undefined ? 'requeue_after' : 'success',
        });
        succeeded = true;
      } catch (err) {
        this.stats.errors++;
        metrics.reconcileTotal.inc({ controller: CONTROLLER, result: 'error' });
        metrics.reconcileErrors.inc({ controller: CONTROLLER });
        logger.warn({ err, key, retries: this.queue.retries(key) }, 'reconcile failed; retrying with backoff');
        this.queue.addRateLimited(key);
      } finally {
        this.releaseEchoes(key, succeeded);
        end();
        metrics.activeWorkers.dec({ controller: CONTROLLER });
        this.queue.done(key);
      }
    }
  }

  private watch<T extends KubeObject = KubeObject>(
    kind: string,
    apiVersion: string,
    namespace: string | undefined,
    labelSelector: string | undefined,
    handlers: Pick<ReflectorOptions<T>, 'onAdd' | 'onUpdate' | 'onDelete' | 'transform' | 'metadataOnly'>,
    fieldSelector?: string,
  ): Reflector<T> {
    const reflector = new Reflector<T>({
      client: this.deps.client,
      apiVersion,
      kind,
      ...(namespace ? { namespace } : {}),
      ...(labelSelector ? { labelSelector } : {}),
      ...(fieldSelector ? { fieldSelector } : {}),
      ...handlers,
      onError: (err) => this.deps.logger.warn({ err, kind, namespace }, 'watch interrupted; resuming'),
    });
    this.reflectors.push(reflector);
    return reflector;
  }

  private resourceHandlers() {
    const enqueue = (o: AnyAcrAccess) => this.queue.add(resourceKey(o));
    return {
      onAdd: enqueue,
      // Our own status writes change no generation: skip them (controller-runtime's GenerationChangedPredicate).
      onUpdate: (o: AnyAcrAccess, old: AnyAcrAccess) => {
        if (o.metadata.generation !== old.metadata.generation || o.metadata.deletionTimestamp) enqueue(o);
      },
      onDelete: (o: AnyAcrAccess) => {
        this.deps.metrics.forgetResource(o);
        const key = resourceKey(o);
        this.usedTags.delete(key);
        this.usedHosts.delete(key);
      },
    };
  }

  /**
   * Indexes managed objects by their controller reference's uid, never by labels or annotations (any writer of a
   * namespace controls those). An object of ours in name only is ignored and reported once.
   */
  /**
   * Detects which backends the cluster serves and watches the kinds they write (label-selected: only objects that
   * claim to be ours, then checked by controller uid). `started`: reflectors added now are started at once.
   */
  private async detectBackends(started: boolean): Promise<void> {
    const { client, backends, config, logger } = this.deps;
    try {
      if (started) client.discovery.invalidate();
      const changed = await backends.detect({
        serves: (v, k) => client.discovery.isServed(v, k),
        hasField: (v, k, path) => this.openApi.hasField(v, k, path),
      });
      const scopes = config.watchedNamespaces.length ? config.watchedNamespaces : [undefined];
      const added: Reflector[] = [];
      for (const kind of backends.servedKinds().filter((k) => !k.prerequisite)) {
        const id = `${kind.apiVersion}/${kind.kind}`;
        if (this.watchedKinds.has(id)) continue;
        this.watchedKinds.add(id);
        for (const namespace of kind.namespaced ? scopes : [undefined])
          added.push(
            this.watch(
              kind.kind,
              kind.apiVersion,
              namespace,
              `${LABELS.managedBy}=${MANAGED_BY}`,
              this.policyHandlers(),
            ),
          );
      }
      if (started) await Promise.all(added.map((r) => r.start()));
      if (changed) {
        logger.info({ kinds: [...this.watchedKinds] }, 'backends detected');
        if (started) this.enqueueAll();
      }
    } catch (err) {
      logger.warn({ err }, 'backend detection failed; keeping what was detected before');
    }
  }

  private policyHandlers() {
    const indexed = this.indexedOwner;
    const index = (o: KubeObject, present: boolean) => {
      const name = objectKey(o);
      const before = indexed.get(name);
      if (before !== undefined) {
        this.objectsByOwnerUid.get(before)?.delete(name);
        if (this.objectsByOwnerUid.get(before)?.size === 0) this.objectsByOwnerUid.delete(before);
        indexed.delete(name);
      }
      const ref = o.metadata.ownerReferences?.find((r) => r.controller);
      const ownerKey = ref && ownerKeyOf(ref, o.metadata.namespace);
      if (!ref || !ownerKey) {
        if (present) this.reportForeign(o);
        return;
      }
      if (present) {
        let byName = this.objectsByOwnerUid.get(ref.uid);
        if (!byName) this.objectsByOwnerUid.set(ref.uid, (byName = new Map<string, KubeObject>()));
        byName.set(name, o);
        indexed.set(name, ref.uid);
      }
      // The echo of the operator's own write changes nothing: do not reconcile the owner again for it.
      if (present && this.ownWrites.get(name) === o.metadata.resourceVersion) return;
      if (present && this.queue.isProcessing(ownerKey)) {
        // Its write may still be awaiting its response: decide when the owner's reconcile ends.
        let held = this.heldEchoes.get(ownerKey);
        if (!held) this.heldEchoes.set(ownerKey, (held = new Map<string, string | undefined>()));
        held.set(name, o.metadata.resourceVersion);
        return;
      }
      this.queue.add(ownerKey);
    };
    return {
      transform: keepOwnedFields,
      onAdd: (o: KubeObject) => index(o, true),
      onUpdate: (o: KubeObject) => index(o, true),
      onDelete: (o: KubeObject) => index(o, false),
    };
  }

  /**
   * Events held during `key`'s reconcile: any that is not the echo of a write it made queues it again (a failed
   * reconcile is already queued again, with backoff).
   */
  private releaseEchoes(key: string, succeeded: boolean): void {
    const held = this.heldEchoes.get(key);
    if (!held) return;
    this.heldEchoes.delete(key);
    if (succeeded)
      for (const [name, resourceVersion] of held)
        if (this.ownWrites.get(name) !== resourceVersion) return this.queue.add(key);
  }

  private reportForeign(o: KubeObject): void {
    const uid = o.metadata.uid ?? '';
    if (this.reportedForeign.has(uid)) return;
    if (this.reportedForeign.size > 10_000) this.reportedForeign.clear();
    this.reportedForeign.add(uid);
    this.deps.logger.warn(
      { namespace: o.metadata.namespace, name: o.metadata.name, kind: o.kind },
      "ignoring an object that carries the operator's labels but no controller reference to an AcrAccess or ClusterAcrAccess",
    );
  }

  private lookup(key: string): AnyAcrAccess | undefined {
    const [kind, a, b] = key.split('/');
    const name = b ?? a ?? '';
    const namespace = b === undefined ? undefined : a;
    for (const r of this.resources) {
      const found = r.get(name, namespace);
      if (found && found.kind === kind) return found;
    }
    return undefined;
  }

  private enqueueAll(): void {
    for (const r of this.resources) for (const o of r.list()) this.queue.add(resourceKey(o));
  }

  private enqueueClusterResources(): void {
    for (const r of this.resources)
      for (const o of r.list()) if (o.kind === KIND_CLUSTER_ACR_ACCESS) this.queue.add(resourceKey(o));
  }

  private async refreshFeed(): Promise<void> {
    const before = this.deps.feeds.problem?.message;
    await this.deps.feeds.refresh();
    this.deps.metrics.feedRefused.set(this.deps.feeds.refused ? 1 : 0);
    // A problem appearing or clearing changes every resource's conditions.
    if (this.deps.feeds.problem?.message !== before) this.enqueueAll();
  }

  /** Enqueues the resources whose tags changed between two feeds, and any not reconciled yet. */
  private onFeedChange(old: FeedState | undefined, next: FeedState, cloud: string): void {
    this.deps.metrics.feedChangeNumber.set({ cloud }, next.feed.changeNumber);
    const changed = new Set<string>();
    const names = new Set([...(old?.feed.tags.keys() ?? []), ...next.feed.tags.keys()]);
    for (const name of names) {
      const a = old?.feed.tags.get(name)?.addressPrefixes;
      const b = next.feed.tags.get(name)?.addressPrefixes;
      if (!a || !b || a.length !== b.length || a.some((p, i) => p !== b[i])) changed.add(name);
    }
    for (const r of this.resources) {
      for (const o of r.list()) {
        const key = resourceKey(o);
        const tags = this.usedTags.get(key);
        if (!tags || tags.some((t) => changed.has(t))) this.queue.add(key);
      }
    }
  }
}

/** The work-queue key of the AcrAccess or ClusterAcrAccess a controller reference names, if it names one. */
function ownerKeyOf(ref: OwnerReference, namespace: string | undefined): string | undefined {
  if (ref.apiVersion.split('/')[0] !== API_VERSION.split('/')[0]) return undefined;
  if (ref.kind === KIND_CLUSTER_ACR_ACCESS) return `${KIND_CLUSTER_ACR_ACCESS}/${ref.name}`;
  // A namespaced owner can only own objects of its own namespace.
  if (ref.kind === KIND_ACR_ACCESS && namespace) return `${KIND_ACR_ACCESS}/${namespace}/${ref.name}`;
  return undefined;
}
