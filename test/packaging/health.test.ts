import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { Operator } from '../../src/controller/operator.js';
import { acrAccess, condition, getAcrAccess, waitReady } from '../support/acraccess.js';
import { clientFor, eventually, test } from '../support/cluster.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../support/operator.js';
import { TOOLS_TIMEOUT_MS, tools, verdicts } from './support.js';

// Health as GitOps tools see it, on live objects of the real control plane through `kubectl get -o json`: kstatus
// (sigs.k8s.io/cli-utils, behind Flux's wait/healthChecks) and deploy/argocd/health.lua run under
// gopher-lua the way Argo CD runs it.

let operator: Operator | undefined;
afterEach(async () => {
  await operator?.stop();
  operator = undefined;
});
beforeAll(() => Promise.all([tools(), installOperatorPrerequisites(clientFor('admin'))]), TOOLS_TIMEOUT_MS);

describe('kstatus and the Argo CD health check on live AcrAccess objects', () => {
  test(
    'not yet reconciled → reconciled → spec changed while stopped → refused',
    { timeout: 120_000 },
    async ({ namespace, admin }) => {
      await bindOperatorNamespace(admin, namespace);
      await admin.apply(acrAccess(namespace, 'pulls'));
      const ref = `acraccess/pulls`;

      // No status yet. Argo CD waits; kstatus cannot tell a resource without status from a finished one and says
      // Current (its documented rule for objects without conditions or observedGeneration).
      let v = await verdicts(ref, namespace);
      expect(v.argo).toMatchObject({ status: 'Progressing', message: 'Waiting for the operator to reconcile' });
      expect(v.kstatus.status).toBe('Current');

      operator = await startTestOperator(namespace);
      await waitReady(admin, namespace, 'pulls');
      v = await verdicts(ref, namespace);
      expect(v.kstatus.status).toBe('Current');
      expect(v.argo.status).toBe('Healthy');
      expect(v.argo.message).toBe(`${condition(v.object, 'Ready')!.reason}: ${condition(v.object, 'Ready')!.message}`);

      // The spec changes while no operator runs: observedGeneration falls behind.
      await operator.stop();
      operator = undefined;
      await admin.apply(acrAccess(namespace, 'pulls', { podSelector: { matchLabels: { app: 'other' } } }));
      v = await verdicts(ref, namespace);
      expect(v.object.metadata.generation).toBe(2);
      expect(v.kstatus).toMatchObject({
        status: 'InProgress',
        message: 'AcrAccess generation is 2, but latest observed generation is 1',
      });
      expect(v.argo).toMatchObject({
        status: 'Progressing',
        message: 'Waiting for the operator to observe generation 2',
      });

      // An operator that only allows other registries refuses it: Stalled.
      operator = await startTestOperator(namespace, { allowedRegistries: ['*.azurecr.cn'] });
      await eventually(
        'Stalled',
        async () => condition(await getAcrAccess(admin, namespace, 'pulls'), 'Stalled')?.status === 'True',
      );
      v = await verdicts(ref, namespace);
      const stalled = condition(v.object, 'Stalled')!;
      expect(stalled.reason).toBe('RegistryNotAllowed');
      expect(v.kstatus.status).toBe('Failed');
      expect(v.argo).toEqual({ ...v.argo, status: 'Degraded', message: `RegistryNotAllowed: ${stalled.message}` });
    },
  );

  test(
    'no address data yet: Reconciling=True is InProgress / Progressing',
    { timeout: 90_000 },
    async ({ namespace, admin }) => {
      await bindOperatorNamespace(admin, namespace);
      // A feed ConfigMap that does not exist, and no last good feed: nothing to write yet, the operator keeps trying.
      operator = await startTestOperator(namespace, { serviceTags: `configmap:${namespace}/service-tags` });
      await admin.apply(acrAccess(namespace, 'waiting'));
      await eventually('Reconciling', async () => {
        const r = await getAcrAccess(admin, namespace, 'waiting');
        return r?.status?.observedGeneration === 1 && condition(r, 'Reconciling')?.status === 'True';
      });
      const v = await verdicts('acraccess/waiting', namespace);
      const reconciling = condition(v.object, 'Reconciling')!;
      expect(v.kstatus.status).toBe('InProgress');
      expect(v.argo).toMatchObject({ status: 'Progressing', message: `${reconciling.reason}: ${reconciling.message}` });
    },
  );
});
