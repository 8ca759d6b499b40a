import { readFile } from 'node:fs/promises';
import { loadAll } from 'js-yaml';
import type { KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';

export const PROJECT_CRDS = ['crds/acraccess.io_acraccesses.yaml', 'crds/acraccess.io_clusteracraccesses.yaml'];
/** The operator's RBAC as shipped: rendered from the Helm chart (hack/render-deploy.ts), never written by hand. */
export const OPERATOR_RBAC = 'deploy/manifests/rbac.yaml';
/** The name the chart gives its ClusterRole and its Role with the default release name. */
const OPERATOR_ROLE = 'acr-access-operator';

/** Applies every document of the given YAML files. */
export async function applyFiles(client: KubeClient, files: string[]): Promise<void> {
  for (const file of files)
    for (const doc of loadAll(await readFile(file, 'utf8'))) if (doc) await client.apply(doc as KubeObject);
}

async function shippedRbac(kind: 'ClusterRole' | 'Role'): Promise<KubeObject & { rules: unknown[] }> {
  const docs = loadAll(await readFile(OPERATOR_RBAC, 'utf8')) as (KubeObject & { rules: unknown[] })[];
  const found = docs.find((d) => d?.kind === kind && d.metadata.name === OPERATOR_ROLE);
  if (!found) throw new Error(`${OPERATOR_RBAC} has no ${kind} ${OPERATOR_ROLE}`);
  return found;
}

/**
 * The project's CRDs and the operator's ClusterRole, as a cluster admin would install them. The shipped bindings
 * name the chart's ServiceAccount; tests bind the static-token user acr-access-operator instead (below).
 */
export async function installProject(admin: KubeClient): Promise<void> {
  await applyFiles(admin, PROJECT_CRDS);
  await admin.apply(await shippedRbac('ClusterRole'));
}

const subjects = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'acr-access-operator' }];

/** Grants the test identity acr-access-operator the shipped ClusterRole, cluster-wide. */
export async function bindOperatorClusterRole(admin: KubeClient): Promise<void> {
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: OPERATOR_ROLE },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_ROLE },
    subjects,
  });
}

/**
 * Grants it, in `namespace` (its own), the rules of the chart's Role for the release namespace: ConfigMaps (the
 * feed, the last good copy) and the leader-election Lease.
 */
export async function bindOperatorNamespace(admin: KubeClient, namespace: string): Promise<void> {
  const role = await shippedRbac('Role');
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: OPERATOR_ROLE, namespace, labels: role.metadata.labels ?? {} },
    rules: role.rules,
  });
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: OPERATOR_ROLE, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: OPERATOR_ROLE },
    subjects,
  });
}

/** Both bindings, for an operator whose own namespace is `operatorNamespace`. */
export async function bindOperator(admin: KubeClient, operatorNamespace: string): Promise<void> {
  await bindOperatorClusterRole(admin);
  await bindOperatorNamespace(admin, operatorNamespace);
}
