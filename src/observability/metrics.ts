import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The conditions exported per resource: the kstatus three a dashboard or alert needs. */
export const EXPORTED_CONDITIONS = ['Ready', 'Stalled', 'Degraded'] as const;

/** Which resource a per-resource series is about. */
export interface ResourceLabels {
  kind: string;
  metadata: { namespace?: string | undefined; name: string };
}

/**
 * Metrics under controller-runtime's names (so existing dashboards and alerts work unchanged), plus the project's
 * own under `acraccess_`.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Reconciliations by result',
    labelNames: ['controller', 'result'],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Reconciliation errors',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Reconciliation time',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly activeWorkers = new Gauge({
    name: 'controller_runtime_active_workers',
    help: 'Workers busy reconciling',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly maxConcurrent = new Gauge({
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Worker count',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'workqueue_depth',
    help: 'Keys waiting',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly queueAdds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Keys added',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Keys retried',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly restRequests = new Counter({
    name: 'rest_client_requests_total',
    help: 'Kubernetes API requests',
    labelNames: ['code', 'method'],
    registers: [this.registry],
  });
  readonly leaderStatus = new Gauge({
    name: 'leader_election_master_status',
    help: '1 while this process holds the leader election lease, else 0',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly feedChangeNumber = new Gauge({
    name: 'acraccess_service_tags_change_number',
    help: 'changeNumber of the Service Tags feed in use',
    labelNames: ['cloud'],
    registers: [this.registry],
  });
  /** Computed when scraped: the age grows between feed changes. */
  readonly feedAge = new Gauge({
    name: 'acraccess_service_tags_feed_age_seconds',
    help: 'Seconds since the publication date of the Service Tags feed in use',
    labelNames: ['cloud'],
    registers: [this.registry],
    collect: () => this.collectFeedAge(),
  });
  readonly feedRefused = new Gauge({
    name: 'acraccess_service_tags_feed_refused',
    help: '1 while the configured feed is refused and the last good one is used',
    registers: [this.registry],
    collect: () => {
      if (this.feedProblem) this.feedRefused.set(this.feedProblem() ? 1 : 0);
    },
  });
  readonly prefixes = new Gauge({
    name: 'acraccess_prefixes',
    help: 'Prefixes allowed per resource',
    labelNames: ['kind', 'namespace', 'name', 'state'],
    registers: [this.registry],
  });
  readonly resourceCondition = new Gauge({
    name: 'acraccess_resource_condition',
    help: `1 while the condition is True, else 0 (conditions: ${EXPORTED_CONDITIONS.join(', ')})`,
    labelNames: ['kind', 'namespace', 'name', 'condition'],
    registers: [this.registry],
  });
  readonly backendApplyErrors = new Counter({
    name: 'acraccess_backend_apply_errors_total',
    help: 'Failed applies of planned objects, per backend',
    labelNames: ['backend'],
    registers: [this.registry],
  });
  readonly informerLastEvent = new Gauge({
    name: 'informer_last_event_timestamp_seconds',
    help: 'Last list or watch activity per kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });

  /** Publication time (ms) of the feed in use, per cloud. */
  private readonly feedPublished = new Map<string, number>();
  private feedProblem: (() => boolean) | undefined;

  constructor(
    collectDefaults = true,
    private readonly now: () => number = Date.now,
  ) {
    if (collectDefaults) collectDefaultMetrics({ register: this.registry });
  }

  /** The feed in use for a cloud: its change number now, its age at every scrape. */
  observeFeed(cloud: string, feed: { changeNumber: number; published?: string | undefined }): void {
    this.feedChangeNumber.set({ cloud }, feed.changeNumber);
    const published = feed.published ? Date.parse(`${feed.published}T00:00:00Z`) : NaN;
    if (Number.isFinite(published)) this.feedPublished.set(cloud, published);
    else this.feedPublished.delete(cloud);
  }

  /** Whether the configured feed is refused, asked at every scrape. */
  watchFeedProblem(refused: () => boolean): void {
    this.feedProblem = refused;
  }

  /** The status conditions of one resource after a reconcile; a condition not set is exported as 0. */
  observeConditions(resource: ResourceLabels, conditions: readonly { type: string; status: string }[] = []): void {
    const labels = resourceLabels(resource);
    for (const condition of EXPORTED_CONDITIONS) {
      const found = conditions.find((c) => c.type === condition);
      this.resourceCondition.set({ ...labels, condition }, found?.status === 'True' ? 1 : 0);
    }
  }

  /** Drops every per-resource series of a deleted resource, so it stops showing on dashboards. */
  forgetResource(resource: ResourceLabels): void {
    const labels = resourceLabels(resource);
    for (const condition of EXPORTED_CONDITIONS) this.resourceCondition.remove({ ...labels, condition });
    for (const state of ['allowed', 'retiring']) this.prefixes.remove({ ...labels, state });
  }

  private collectFeedAge(): void {
    this.feedAge.reset();
    const now = this.now();
    for (const [cloud, published] of this.feedPublished)
      this.feedAge.set({ cloud }, Math.max(0, Math.round((now - published) / 1000)));
  }
}

function resourceLabels(resource: ResourceLabels): { kind: string; namespace: string; name: string } {
  return { kind: resource.kind, namespace: resource.metadata.namespace ?? '', name: resource.metadata.name };
}
