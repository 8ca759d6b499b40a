import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { Operator } from '../../src/controller/operator.js';
import { resourceKey } from '../../src/controller/reconcile.js';
import { acrAccess, waitReady } from '../support/acraccess.js';
import { auditEvents, clientFor, eventually, test, type AuditEvent } from '../support/cluster.js';
import { putFeed, realFeed, shrunkFeed } from '../support/feeds.js';
import {
  bindOperatorNamespace,
  installOperatorPrerequisites,
  scrapeMetrics,
  startTestOperator,
} from '../support/operator.js';
import { freePort } from '../controlplane/process.js';
import type { KubeClient } from '../../src/kube/client.js';

// /metrics of a running operator (in this process, health server on a free loopback port), checked against what
// the test made happen; and the User-Agent every request of it carries, as the API server's audit log records it.

let operator: Operator | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await operator?.stop();
  operator = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
});
beforeAll(() => installOperatorPrerequisites(clientFor('admin')));

/** A pino logger whose JSON lines land in `lines`, so a test can read what the operator logged. */
function capturingLogger(lines: Record<string, unknown>[]) {
  return pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
}

/** Refuses any NetworkPolicy named `name` in `namespace`: a backend write the API server rejects for good. */
async function refuseNetworkPolicy(admin: KubeClient, namespace: string, name: string): Promise<void> {
  const policy = `refuse-${namespace}`;
  const vap = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', name: policy };
  const binding = { ...vap, kind: 'ValidatingAdmissionPolicyBinding' };
  await admin.apply({
    apiVersion: vap.apiVersion,
    kind: vap.kind,
    metadata: { name: policy },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: ['networking.k8s.io'],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['networkpolicies'],
          },
        ],
      },
      validations: [{ expression: `object.metadata.name != '${name}'`, message: `${name} is refused here` }],
    },
  });
  await admin.apply({
    apiVersion: binding.apiVersion,
    kind: binding.kind,
    metadata: { name: policy },
    spec: {
      policyName: policy,
      validationActions: ['Deny'],
      matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } },
    },
  });
  cleanups.push(
    () => admin.delete(binding),
    () => admin.delete(vap),
  );
  // Admission policies take effect asynchronously: wait until a probe is refused.
  const probe = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace } };
  await eventually('admission policy in force', () =>
    admin.create({ ...probe, spec: { podSelector: {} } }, { dryRun: true }).then(
      () => false,
      () => true,
    ),
  );
}

const DAY_MS = 86_400_000;

describe('observability', () => {
  test('/metrics reports reconciles, the feed, prefixes, conditions, apply errors and leadership', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    await refuseNetworkPolicy(admin, namespace, 'acr-access-frozen');
    const port = await freePort();
    const lines: Record<string, unknown>[] = [];
    const lost: string[] = [];
    operator = await startTestOperator(
      namespace,
      {
        healthAddress: `127.0.0.1:${port}`,
        allowedRegistries: ['contoso.azurecr.io'],
        leaderElection: { namespace, name: 'acr-access-operator' },
        // In this process an exit would end the test run; a loss is recorded and asserted instead.
        onLeadershipLost: (reason) => void lost.push(reason),
      },
      undefined,
      capturingLogger(lines),
    );
    await eventually('this operator leads', async () => operator?.leader?.isLeader, 30_000);

    await admin.apply(acrAccess(namespace, 'good1'));
    await admin.apply(acrAccess(namespace, 'good2'));
    await admin.apply(
      acrAccess(namespace, 'refused', { registry: { loginServer: 'fabrikam.azurecr.io', regions: ['eastus'] } }),
    );
    await admin.apply(acrAccess(namespace, 'frozen'));
    const good1 = await waitReady(admin, namespace, 'good1');
    await waitReady(admin, namespace, 'good2');
    await waitReady(admin, namespace, 'refused', 'False');
    await waitReady(admin, namespace, 'frozen', 'False');
    await operator.manager.idle();

    const m = await scrapeMetrics(port);
    const c = { controller: 'acraccess' };
    // good1, good2 and refused (Stalled, looked at again on change) succeed; frozen is retried later (requeue_after).
    expect(m.value('controller_runtime_reconcile_total', { ...c, result: 'success' })).toBeGreaterThanOrEqual(3);
    expect(m.value('controller_runtime_reconcile_total', { ...c, result: 'requeue_after' })).toBeGreaterThanOrEqual(1);
    expect(m.value('controller_runtime_reconcile_errors_total', c) ?? 0).toBe(0); // a refusal is Stalled, not an error
    expect(m.value('controller_runtime_reconcile_time_seconds_count', c)).toBeGreaterThanOrEqual(4);
    expect(m.value('workqueue_adds_total', { name: 'acraccess' })).toBeGreaterThanOrEqual(4);
    expect(m.value('workqueue_depth', { name: 'acraccess' })).toBe(0);
    expect(m.value('rest_client_requests_total', { method: 'GET', code: '200' })).toBeGreaterThan(0);
    expect(m.value('rest_client_requests_total', { method: 'PATCH' })).toBeGreaterThanOrEqual(4); // statuses, policies
    expect(m.value('leader_election_master_status', { name: 'acr-access-operator' })).toBe(1);

    // The embedded public snapshot: ServiceTags_Public_20251103, changeNumber 376.
    const cloud = { cloud: 'AzurePublicCloud' };
    expect(m.value('acraccess_service_tags_change_number', cloud)).toBe(376);
    const age = m.value('acraccess_service_tags_feed_age_seconds', cloud)!;
    expect(Math.abs(age - (Date.now() - Date.parse('2025-11-03T00:00:00Z')) / 1000)).toBeLessThan(60);
    expect(age).toBeGreaterThan(DAY_MS / 1000);
    expect(m.value('acraccess_service_tags_feed_refused')).toBe(0);

    const of = (name: string) => ({ kind: 'AcrAccess', namespace, name });
    expect(m.value('acraccess_prefixes', { ...of('good1'), state: 'allowed' })).toBe(
      good1.status!.addresses!.prefixCount,
    );
    expect(m.value('acraccess_prefixes', { ...of('good1'), state: 'retiring' })).toBe(0);
    const condition = (name: string, type: string) =>
      m.value('acraccess_resource_condition', { ...of(name), condition: type });
    expect([condition('good1', 'Ready'), condition('good1', 'Stalled'), condition('good1', 'Degraded')]).toEqual([
      1, 0, 0,
    ]);
    expect([condition('refused', 'Ready'), condition('refused', 'Stalled')]).toEqual([0, 1]);
    expect(condition('frozen', 'Stalled')).toBe(1);
    expect(m.value('acraccess_backend_apply_errors_total', { backend: 'NetworkPolicy' })).toBeGreaterThanOrEqual(1);

    // Reconcile logs carry the resource's work-queue key.
    const key = resourceKey({
      apiVersion: 'acraccess.io/v1alpha1',
      kind: 'AcrAccess',
      metadata: { namespace, name: 'good1' },
    });
    expect(lines.find((l) => /^added \d+ prefixes/.test(String(l.msg)) && l.key === key)).toBeDefined();

    // A deleted resource's series go away.
    await admin.delete({ apiVersion: 'acraccess.io/v1alpha1', kind: 'AcrAccess', namespace, name: 'refused' });
    await eventually(
      'the deleted resource is gone from /metrics',
      async () => !(await scrapeMetrics(port)).samples.some((s) => s.labels.name === 'refused'),
      10_000,
    );
    for (const probe of ['healthz', 'readyz'])
      expect((await fetch(`http://127.0.0.1:${port}/${probe}`)).status, probe).toBe(200);
    expect(lost).toEqual([]);
  });

  test('a refused feed shows as feed_refused 1 while the last good change number stays', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    const base = realFeed();
    await putFeed(admin, namespace, 'service-tags', JSON.stringify(base));
    const port = await freePort();
    operator = await startTestOperator(namespace, {
      healthAddress: `127.0.0.1:${port}`,
      serviceTags: `configmap:${namespace}/service-tags`,
    });
    const cloud = { cloud: 'AzurePublicCloud' };
    await eventually('the feed is accepted', async () => {
      const m = await scrapeMetrics(port);
      return (
        m.value('acraccess_service_tags_change_number', cloud) === 376 &&
        m.value('acraccess_service_tags_feed_refused') === 0
      );
    });
    await putFeed(admin, namespace, 'service-tags', JSON.stringify(shrunkFeed(base, 377, 0.1)));
    await eventually(
      'the shrunk feed is refused',
      async () => (await scrapeMetrics(port)).value('acraccess_service_tags_feed_refused') === 1,
    );
    expect((await scrapeMetrics(port)).value('acraccess_service_tags_change_number', cloud)).toBe(376);
  });

  test('every request carries User-Agent acr-access-operator/<version>, watches included', async ({
    namespace,
    admin,
  }) => {
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    await bindOperatorNamespace(admin, namespace);
    const lost: string[] = [];
    operator = await startTestOperator(namespace, {
      leaderElection: { namespace, name: 'acr-access-operator' },
      onLeadershipLost: (reason) => void lost.push(reason), // not an exit of the test process
    });
    await eventually('this operator leads', async () => operator?.leader?.isLeader, 30_000);
    await admin.apply(acrAccess(namespace, 'contoso'));
    await waitReady(admin, namespace, 'contoso');
    await operator.manager.idle();
    // The leader renews its Lease every 2 s with an update (PUT).
    const from = (e: AuditEvent) => e.user.username === 'acr-access-operator' && e.objectRef?.namespace === namespace;
    await eventually(
      'a lease renewal',
      async () => (await auditEvents((e) => from(e) && e.verb === 'update')).length > 0,
      10_000,
    );

    const events = await auditEvents(from);
    const verbs = new Set(events.map((e) => e.verb));
    for (const verb of ['watch', 'list', 'get', 'create', 'update', 'patch']) expect(verbs, verb).toContain(verb);
    const agents = new Set(events.map((e) => e.userAgent));
    expect([...agents]).toEqual([`acr-access-operator/${version} (${operator.identity})`]);
    expect(lost).toEqual([]);
  });
});
