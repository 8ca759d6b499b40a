import { readFile } from 'node:fs/promises';
import { loadAll } from 'js-yaml';
import { silentLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { DEFAULTS, startOperator, type Operator, type OperatorOptions } from '../../src/controller/operator.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import type { KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import { controlPlane, installCrds } from './cluster.js';

let installed = false;

/** CRDs and the operator's own RBAC (bound to the test identity acr-access-operator), once per run. */
export async function installOperatorPrerequisites(admin: KubeClient): Promise<void> {
  if (installed) return;
  await installCrds(admin, ['crds/acraccess.io_acraccesses.yaml', 'crds/acraccess.io_clusteracraccesses.yaml']);
  for (const doc of loadAll(await readFile('deploy/manifests/rbac.yaml', 'utf8'))) await admin.apply(doc as KubeObject);
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'acr-access-operator-test' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'acr-access-operator' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'acr-access-operator' }],
  });
  installed = true;
}

/** Lets the operator keep its feed ConfigMaps in `namespace`, as the chart's RoleBinding does. */
export async function bindOperatorNamespace(admin: KubeClient, namespace: string): Promise<void> {
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'acr-access-operator-config', namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'acr-access-operator-config' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'acr-access-operator' }],
  });
}

/**
 * Starts the operator in this process under the operator identity, scoped to one test namespace (which is also
 * its own namespace), with fast timings.
 */
export async function startTestOperator(
  namespace: string,
  overrides: Partial<OperatorOptions> = {},
  kubeconfig = controlPlane().kubeconfigs.operator,
): Promise<Operator> {
  const options: OperatorOptions = {
    ...DEFAULTS,
    namespace,
    watchedNamespaces: [namespace],
    dns: 'off',
    resyncMs: 10_000,
    refreshIntervalMs: 1000,
    workers: 2,
    ...overrides,
  };
  return startOperator(options, silentLogger(), loadKubeConfig({ kubeconfig }), new Metrics(false));
}
