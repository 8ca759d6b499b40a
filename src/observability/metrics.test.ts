import { describe, expect, test } from 'vitest';
import { Metrics } from './metrics.js';

/** One sample's value from the text exposition, or undefined when the series is absent. */
async function sample(metrics: Metrics, series: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const resource = { kind: 'AcrAccess', metadata: { namespace: 'team-a', name: 'contoso' } };
const labels = 'kind="AcrAccess",namespace="team-a",name="contoso"';

describe('metrics', () => {
  test('controller-runtime names are kept, so existing dashboards and alerts work', () => {
    const metrics = new Metrics(false);
    for (const name of [
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_errors_total',
      'controller_runtime_reconcile_time_seconds',
      'workqueue_depth',
      'workqueue_adds_total',
      'workqueue_retries_total',
      'rest_client_requests_total',
      'leader_election_master_status',
      'acraccess_service_tags_feed_age_seconds',
      'acraccess_service_tags_change_number',
      'acraccess_service_tags_feed_refused',
      'acraccess_prefixes',
      'acraccess_resource_condition',
      'acraccess_backend_apply_errors_total',
    ])
      expect(metrics.registry.getSingleMetric(name), name).toBeDefined();
  });

  test('feed age is now − publication date, computed at every scrape', async () => {
    let now = Date.parse('2025-11-04T00:00:00Z');
    const metrics = new Metrics(false, () => now);
    metrics.observeFeed('AzurePublicCloud', { changeNumber: 376, published: '2025-11-03' });
    expect(await sample(metrics, 'acraccess_service_tags_change_number{cloud="AzurePublicCloud"}')).toBe(376);
    expect(await sample(metrics, 'acraccess_service_tags_feed_age_seconds{cloud="AzurePublicCloud"}')).toBe(86_400);
    now += 3600_000;
    expect(await sample(metrics, 'acraccess_service_tags_feed_age_seconds{cloud="AzurePublicCloud"}')).toBe(90_000);
    // A feed without a publication date has no age (rather than a made-up one).
    metrics.observeFeed('AzurePublicCloud', { changeNumber: 377 });
    expect(await sample(metrics, 'acraccess_service_tags_feed_age_seconds{cloud="AzurePublicCloud"}')).toBeUndefined();
    expect(await sample(metrics, 'acraccess_service_tags_change_number{cloud="AzurePublicCloud"}')).toBe(377);
  });

  test('feed refused follows the feed manager at scrape time', async () => {
    const metrics = new Metrics(false);
    let refused = false;
    metrics.watchFeedProblem(() => refused);
    expect(await sample(metrics, 'acraccess_service_tags_feed_refused')).toBe(0);
    refused = true;
    expect(await sample(metrics, 'acraccess_service_tags_feed_refused')).toBe(1);
  });

  test('conditions: 1 when True, 0 otherwise or absent; a deleted resource’s series go away', async () => {
    const metrics = new Metrics(false);
    metrics.observeConditions(resource, [
      { type: 'Ready', status: 'False' },
      { type: 'Stalled', status: 'True' },
      { type: 'Reconciling', status: 'True' },
    ]);
    metrics.prefixes.set({ kind: 'AcrAccess', namespace: 'team-a', name: 'contoso', state: 'allowed' }, 12);
    expect(await sample(metrics, `acraccess_resource_condition{${labels},condition="Stalled"}`)).toBe(1);
    expect(await sample(metrics, `acraccess_resource_condition{${labels},condition="Ready"}`)).toBe(0);
    expect(await sample(metrics, `acraccess_resource_condition{${labels},condition="Degraded"}`)).toBe(0);
    expect(await sample(metrics, `acraccess_resource_condition{${labels},condition="Reconciling"}`)).toBeUndefined();
    metrics.forgetResource(resource);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('name="contoso"');
  });

  test('leader status and backend apply errors carry their labels', async () => {
    const metrics = new Metrics(false);
    metrics.leaderStatus.set({ name: 'acr-access-operator' }, 1);
    metrics.backendApplyErrors.inc({ backend: 'NetworkPolicy' });
    expect(await sample(metrics, 'leader_election_master_status{name="acr-access-operator"}')).toBe(1);
    expect(await sample(metrics, 'acraccess_backend_apply_errors_total{backend="NetworkPolicy"}')).toBe(1);
  });
});
