import { readFile } from 'node:fs/promises';
import { loadAll } from 'js-yaml';
import type { KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';

export const PROJECT_CRDS = ['crds/acraccess.io_acraccesses.yaml', 'crds/acraccess.io_clusteracraccesses.yaml'];

/** Applies every document of the given YAML files. */
export async function applyFiles(client: KubeClient, files: string[]): Promise<void> {
  for (const file of files)
    for (const doc of loadAll(await readFile(file, 'utf8'))) if (doc) await client.apply(doc as KubeObject);
}

/** The project's CRDs and the operator's RBAC, as a cluster admin would install them. */
export async function installProject(admin: KubeClient): Promise<void> {
  await applyFiles(admin, [...PROJECT_CRDS, 'deploy/manifests/rbac.yaml']);
}

const subjects = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'acr-access-operator' }];
const roleRef = (name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name });

/** Grants the test identity acr-access-operator the shipped ClusterRole, cluster-wide. */
export async function bindOperatorClusterRole(admin: KubeClient): Promise<void> {
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'acr-access-operator' },
    roleRef: roleRef('acr-access-operator'),
    subjects,
  });
}

/** Grants it ConfigMaps (feed, last good copy) in its own namespace, as the chart's RoleBinding does. */
export async function bindOperatorNamespace(admin: KubeClient, namespace: string): Promise<void> {
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'acr-access-operator-config', namespace },
    roleRef: roleRef('acr-access-operator-config'),
    subjects,
  });
}

/** Both bindings, for an operator whose own namespace is `operatorNamespace`. */
export async function bindOperator(admin: KubeClient, operatorNamespace: string): Promise<void> {
  await bindOperatorClusterRole(admin);
  await bindOperatorNamespace(admin, operatorNamespace);
}
