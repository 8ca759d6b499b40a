import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { beforeAll, describe, expect } from 'vitest';
import type { KubeObject } from '../../src/kube/types.js';
import { renderManifests } from '../../hack/render-deploy.js';
import { repoRoot } from '../../hack/tools/tools.js';
import { PROJECT_CRDS } from '../support/install.js';
import { eventually, installCrds, test } from '../support/cluster.js';
import {
  CHART,
  TOOLS_TIMEOUT_MS,
  exec,
  find,
  helmTemplate,
  kubectl,
  kubectlOk,
  only,
  tools,
  uniqueRelease,
} from './support.js';

// The Helm chart with the real helm (built from helm.sh/helm/v4): lint, the schema's refusals, a matrix of value
// sets, and the rendered objects applied to the real control plane; the plain manifests are the chart's output.

beforeAll(() => tools(), TOOLS_TIMEOUT_MS);

type Container = {
  args: string[];
  env: { name: string; value?: string }[];
  [field: string]: unknown;
};
interface DeploymentSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: {
    spec: {
      containers: Container[];
      securityContext: unknown;
      affinity: unknown;
      topologySpreadConstraints: unknown[];
    };
  };
}
const containerOf = (docs: KubeObject[]) =>
  (only(docs, 'Deployment').spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0]!;

describe('the Helm chart', () => {
  test('helm lint --strict passes for the defaults and for every option turned on', { timeout: 60_000 }, async () => {
    const { helm } = await tools();
    for (const set of [
      [],
      ['rbac.namespaced=true', 'operator.watchNamespaces={a,b}', 'serviceMonitor.enabled=true'],
      ['prometheusRule.enabled=true', 'azure.workloadIdentity.enabled=true', 'crds.install=false'],
    ]) {
      const r = await exec(helm, ['lint', '--strict', CHART, ...set.flatMap((s) => ['--set', s])]);
      expect(r.stdout + r.stderr, set.join(' ')).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(r.code).toBe(0);
    }
  });

  test('the schema refuses malformed values, naming the field', { timeout: 60_000 }, async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ replicaCount: 'two' }, /replicaCount/],
      [{ operator: { logLevel: 'verbose' } }, /logLevel/],
      [{ operator: { workers: -1 } }, /workers/],
      [{ operator: { gracePeriod: '7 days' } }, /gracePeriod/],
      [{ operator: { maxFeedShrink: 1.5 } }, /maxFeedShrink/],
      [{ operator: { serviceTags: 'https://example.com/feed.json' } }, /serviceTags/],
      [{ operator: { serviceTags: ['embedded', 'https://example.com/feed.json'] } }, /serviceTags/],
      [{ operator: { serviceTags: [] } }, /serviceTags/],
      [{ operator: { serviceTagsCloud: 'AzureGermanCloud' } }, /serviceTagsCloud/],
      [{ operator: { backends: ['Istio'] } }, /backends/],
      [{ operator: { wrokers: 2 } }, /wrokers/],
      [{ azure: { workloadIdentity: { clientId: 'not-a-guid' } } }, /clientId/],
      [{ azure: { subscriptionId: 'my-subscription' } }, /subscriptionId/],
      [{ rbac: { namespaced: true } }, /watchNamespaces/],
      [{ health: { port: 80 } }, /port/],
      [{ image: { digest: 'latest' } }, /digest/],
    ];
    for (const [values, field] of bad) {
      const r = await helmTemplate(values);
      expect(r.code, JSON.stringify(values)).not.toBe(0);
      expect(r.stderr, JSON.stringify(values)).toMatch(/values don't meet the specifications of the schema/);
      expect(r.stderr, JSON.stringify(values)).toMatch(field);
    }
  });

  test('defaults: two replicas spread apart, leader election, probes, hardening, PDB', async () => {
    const { docs } = await helmTemplate({});
    const spec = only(docs, 'Deployment').spec as DeploymentSpec;
    const pod = spec.template.spec;
    const c = pod.containers[0]!;
    expect(spec.replicas).toBe(2);
    expect(c.args).toEqual(
      expect.arrayContaining([
        '--leader-elect',
        '--leader-election-namespace=$(POD_NAMESPACE)',
        '--leader-election-id=acr-access-operator',
        '--health-address=:8081',
        '--service-tags=embedded',
      ]),
    );
    expect(c.env).toContainEqual({
      name: 'POD_NAMESPACE',
      valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
    });
    expect(c.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'health' } });
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'health' } });
    expect(c.ports).toEqual([{ name: 'health', containerPort: 8081, protocol: 'TCP' }]);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '256Mi' },
    });
    const selector = spec.selector.matchLabels;
    expect(pod.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } },
          },
        ],
      },
    });
    expect(pod.topologySpreadConstraints[0]).toMatchObject({ labelSelector: { matchLabels: selector } });
    expect(only(docs, 'PodDisruptionBudget').spec).toEqual({ minAvailable: 1, selector: { matchLabels: selector } });
    expect(c.image).toBe('acr-access-operator:0.1.0');
    // One replica: no PDB (minAvailable 1 would block every node drain).
    expect(find((await helmTemplate({ replicaCount: 1 })).docs, 'PodDisruptionBudget')).toEqual([]);
  });

  test('several Service Tags sources: one flag each, and read access to every feed namespace', async () => {
    const { docs } = await helmTemplate({
      operator: { serviceTags: ['arm:eastus', 'configmap:feeds/service-tags', 'configmap:other/tags:t.json'] },
      azure: { subscriptionId: '00000000-0000-0000-0000-000000000000' },
    });
    expect(containerOf(docs).args.filter((a: string) => a.startsWith('--service-tags='))).toEqual([
      '--service-tags=arm:eastus',
      '--service-tags=configmap:feeds/service-tags',
      '--service-tags=configmap:other/tags:t.json',
    ]);
    const feedRoles = find(docs, 'Role').filter((r) => r.metadata.name.endsWith('-feed'));
    expect(feedRoles.map((r) => r.metadata.namespace).sort()).toEqual(['feeds', 'other']);
  });

  test('every operator flag is a value; leader election off passes --no-leader-elect', async () => {
    const { docs } = await helmTemplate({
      operator: {
        serviceTags: 'configmap:feeds/service-tags:ServiceTags.json.gz',
        serviceTagsCloud: 'AzureChinaCloud',
        refreshInterval: '30m',
        gracePeriod: '3d',
        maxFeedShrink: 0.25,
        backends: ['NetworkPolicy', 'Calico'],
        allowedRegistries: ['*.azurecr.cn', 'contoso.azurecr.cn'],
        watchNamespaces: ['team-a', 'team-b'],
        workers: 8,
        resync: '5m',
        dns: '10.0.0.10,10.0.0.11:53',
        logLevel: 'debug',
      },
      health: { port: 9443 },
      leaderElection: { enabled: false },
    });
    expect(containerOf(docs).args).toEqual([
      '--service-tags=configmap:feeds/service-tags:ServiceTags.json.gz',
      '--service-tags-cloud=AzureChinaCloud',
      '--refresh-interval=30m',
      '--grace-period=3d',
      '--max-feed-shrink=0.25',
      '--backends=NetworkPolicy,Calico',
      '--allowed-registries=*.azurecr.cn,contoso.azurecr.cn',
      '--watch-namespaces=team-a,team-b',
      '--workers=8',
      '--resync=5m',
      '--dns=10.0.0.10,10.0.0.11:53',
      '--health-address=:9443',
      '--log-level=debug',
      '--no-leader-elect',
    ]);
    // A feed ConfigMap in another namespace gets read access there, and no Lease role is rendered.
    const roles = find(docs, 'Role').map((r) => `${r.metadata.namespace}/${r.metadata.name}`);
    expect(roles).toEqual(['acr-access-system/acr-access-operator', 'feeds/acr-access-operator-feed']);
    const own = only(docs, 'Role', 'acr-access-operator') as KubeObject & { rules: { resources: string[] }[] };
    expect(own.rules.flatMap((r) => r.resources)).toEqual(['configmaps']);
  });

  test('workload identity: the ServiceAccount annotation and the pod label', async () => {
    const clientId = '11111111-2222-3333-4444-555555555555';
    const { docs } = await helmTemplate({ azure: { workloadIdentity: { enabled: true, clientId } } });
    expect(only(docs, 'ServiceAccount').metadata.annotations).toEqual({
      'azure.workload.identity/client-id': clientId,
    });
    const labels = (only(docs, 'Deployment').spec as { template: { metadata: { labels: Record<string, string> } } })
      .template.metadata.labels;
    expect(labels['azure.workload.identity/use']).toBe('true');
    const off = await helmTemplate({});
    expect(only(off.docs, 'ServiceAccount').metadata.annotations).toBeUndefined();
  });

  test('CRDs: the templates are crds/ as generated, kept on uninstall, and optional', async () => {
    const { docs } = await helmTemplate({});
    const crds = find(docs, 'CustomResourceDefinition');
    for (const file of PROJECT_CRDS) {
      const source = loadAll(await readFile(path.join(repoRoot, file), 'utf8'))[0] as KubeObject;
      const rendered = crds.find((c) => c.metadata.name === source.metadata.name)!;
      expect(rendered.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
      expect(rendered.metadata.labels?.['app.kubernetes.io/name']).toBe('acr-access-operator');
      expect({ ...rendered, metadata: { name: rendered.metadata.name } }).toEqual(source);
    }
    const notKept = await helmTemplate({ crds: { keep: false } });
    expect(find(notKept.docs, 'CustomResourceDefinition')[0]!.metadata.annotations).toBeUndefined();
    expect(find((await helmTemplate({ crds: { install: false } })).docs, 'CustomResourceDefinition')).toEqual([]);
  });

  test('deploy/manifests are the chart rendered, and kustomize builds them', { timeout: 60_000 }, async () => {
    const { helm } = await tools();
    for (const [file, text] of Object.entries(await renderManifests(helm)))
      expect(await readFile(path.join(repoRoot, 'deploy/manifests', file), 'utf8'), file).toBe(text);
    const built = loadAll(await kubectlOk(['kustomize', path.join(repoRoot, 'deploy/manifests')])) as KubeObject[];
    expect(built.map((d) => d.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'CustomResourceDefinition',
        'Deployment',
        'Namespace',
        'PodDisruptionBudget',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
    for (const d of built) expect(d.metadata.labels?.['app.kubernetes.io/managed-by'], d.kind).toBeUndefined();
  });

  test(
    'the rendered chart applies to the real API server: server-side dry-run, then for real',
    { timeout: 120_000 },
    async ({ namespace, admin }) => {
      const release = uniqueRelease();
      const { stdout } = await helmTemplate({}, { release, namespace });
      const dry = await kubectl(
        ['apply', '--server-side', '--dry-run=server', '--field-manager=helm-test', '-f', '-'],
        {
          input: stdout,
        },
      );
      expect(dry.stderr).toBe('');
      expect(dry.stdout).toMatch(
        new RegExp(`deployment.apps/${release}-acr-access-operator serverside-applied \\(server dry run\\)`),
      );
      const real = await kubectl(['apply', '--server-side', '--field-manager=helm-test', '-f', '-'], { input: stdout });
      expect(real.stderr).toBe('');
      const got = await admin.get({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace,
        name: `${release}-acr-access-operator`,
      });
      expect((got?.spec as { replicas: number }).replicas).toBe(2);
      await cleanupClusterScoped(release);
    },
  );

  test(
    'ServiceMonitor and PrometheusRule render and apply (with stand-in monitoring CRDs)',
    { timeout: 120_000 },
    async ({ namespace, admin }) => {
      const release = uniqueRelease();
      const { stdout, docs } = await helmTemplate(
        { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true }, crds: { install: false } },
        { release, namespace },
      );
      const service = only(docs, 'Service');
      const monitor = only(docs, 'ServiceMonitor').spec as {
        selector: { matchLabels: Record<string, string> };
        endpoints: Record<string, unknown>[];
      };
      expect(monitor.selector.matchLabels).toEqual(
        Object.fromEntries(Object.entries(service.metadata.labels!).filter(([k]) => k in monitor.selector.matchLabels)),
      );
      expect(monitor.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
      const rules = (only(docs, 'PrometheusRule').spec as { groups: { rules: { alert: string; expr: string }[] }[] })
        .groups[0]!.rules;
      const job = `job="${service.metadata.name}", namespace="${namespace}"`;
      expect(Object.fromEntries(rules.map((r) => [r.alert, r.expr]))).toEqual({
        AcrAccessServiceTagsFeedStale: `max by (cloud) (acraccess_service_tags_feed_age_seconds{${job}}) > 1209600`,
        AcrAccessServiceTagsFeedRefused: `max(acraccess_service_tags_feed_refused{${job}}) == 1`,
        AcrAccessReconcileErrors: `sum(rate(controller_runtime_reconcile_errors_total{${job}}[15m])) > 0`,
        AcrAccessResourceDegraded: `max by (kind, exported_namespace, name) (acraccess_resource_condition{${job}, condition="Degraded"}) == 1`,
        AcrAccessResourceStalled: `max by (kind, exported_namespace, name) (acraccess_resource_condition{${job}, condition="Stalled"}) == 1`,
      });
      // The Prometheus Operator's CRDs are not on this control plane; minimal stand-ins (any spec) let the API server
      // accept the kinds, so this proves the objects apply, not that their fields match the operator's schema.
      const crdFile = path.join(repoRoot, 'test/packaging/fixtures/monitoring-crds.yaml');
      await installCrds(admin, [crdFile]);
      try {
        const r = await kubectl(['apply', '--server-side', '--field-manager=helm-test', '-f', '-'], { input: stdout });
        expect(r.stderr).toBe('');
        expect(r.stdout).toMatch(
          new RegExp(`prometheusrule.monitoring.coreos.com/${release}-acr-access-operator serverside-applied`),
        );
        expect(r.stdout).toMatch(
          new RegExp(`servicemonitor.monitoring.coreos.com/${release}-acr-access-operator serverside-applied`),
        );
      } finally {
        await kubectl(['delete', '-f', crdFile, '--wait=false']);
        await cleanupClusterScoped(release);
      }
    },
  );
});

/** The release's ClusterRole and ClusterRoleBinding outlive the test namespace: delete them. */
async function cleanupClusterScoped(release: string): Promise<void> {
  const name = `${release}-acr-access-operator`;
  await kubectl(['delete', 'clusterrole,clusterrolebinding', name, '--ignore-not-found']);
  await eventually('cluster-scoped objects deleted', async () => {
    const r = await kubectl(['get', 'clusterrole', name, '--ignore-not-found', '-o', 'name']);
    return r.stdout.trim() === '';
  });
}
