import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Metrics under controller-runtime's names, so existing dashboards and alerts work unchanged. */
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
  readonly feedChangeNumber = new Gauge({
    name: 'acraccess_service_tags_change_number',
    help: 'changeNumber of the Service Tags feed in use',
    labelNames: ['cloud'],
    registers: [this.registry],
  });
  readonly feedRefused = new Gauge({
    name: 'acraccess_service_tags_feed_refused',
    help: '1 while the configured feed is refused and the last good one is used',
    registers: [this.registry],
  });
  readonly prefixes = new Gauge({
    name: 'acraccess_prefixes',
    help: 'Prefixes allowed per resource',
    labelNames: ['kind', 'namespace', 'name', 'state'],
    registers: [this.registry],
  });
  readonly informerLastEvent = new Gauge({
    name: 'informer_last_event_timestamp_seconds',
    help: 'Last list or watch activity per kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });

  constructor(collectDefaults = true) {
    if (collectDefaults) collectDefaultMetrics({ register: this.registry });
  }
}
