import { silentLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { DEFAULTS, startOperator, type Operator, type OperatorOptions } from '../../src/controller/operator.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import type { KubeClient } from '../../src/kube/client.js';
import { controlPlane } from './cluster.js';
import { bindOperatorClusterRole, installProject } from './install.js';

export { bindOperatorNamespace } from './install.js';

let installed = false;

/** CRDs and the operator's own RBAC, once per run. */
export async function installOperatorPrerequisites(admin: KubeClient): Promise<void> {
  if (installed) return;
  await installProject(admin);
  await bindOperatorClusterRole(admin);
  installed = true;
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
    // CNI CRDs installed by other tests must not change what these operators write, unless a test asks.
    backends: ['NetworkPolicy'],
    ...overrides,
  };
  return startOperator(options, silentLogger(), loadKubeConfig({ kubeconfig }), new Metrics(false));
}
