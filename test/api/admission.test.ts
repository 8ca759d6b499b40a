import { beforeAll, describe, expect } from 'vitest';
import { parseAcrAccess } from '../../src/api/validate.js';
import { KubeApiError } from '../../src/kube/errors.js';
import { INVALID_CASES, VALID_SPECS } from '../fixtures/admission-cases.js';
import { clientFor, installCrds, test } from '../support/cluster.js';

const object = (kind: string, namespace: string, spec: Record<string, unknown>) => ({
  apiVersion: 'acraccess.io/v1alpha1',
  kind,
  metadata: kind === 'AcrAccess' ? { name: 'case', namespace } : { name: `case-${namespace}` },
  spec,
});

describe('AcrAccess and ClusterAcrAccess CRDs in the real API server', () => {
  beforeAll(async () => {
    await installCrds(clientFor('admin'), [
      'crds/acraccess.io_acraccesses.yaml',
      'crds/acraccess.io_clusteracraccesses.yaml',
    ]);
  });

  test.for(VALID_SPECS)(
    'accepts $kind: $name, defaulted exactly as render defaults it',
    async (c, { namespace, admin }) => {
      const stored = await admin.apply(object(c.kind, namespace, c.spec), { dryRun: true });
      const offline = parseAcrAccess(object(c.kind, namespace, c.spec));
      expect(stored.spec).toEqual(offline.spec);
    },
  );

  test.for(INVALID_CASES)('rejects $kind: $name', async (c, { namespace, admin }) => {
    const err = await admin.apply(object(c.kind, namespace, c.spec), { dryRun: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(422);
    expect((err as Error).message).toContain(`${c.path}:`);
    expect((err as Error).message).toContain(c.message);
  });

  test('status is a subresource: a spec write cannot set it, a status write can', async ({ namespace, admin }) => {
    const created = await admin.apply({
      ...object('AcrAccess', namespace, VALID_SPECS[0]!.spec),
      status: { observedGeneration: 99 },
    });
    expect(created.status).toBeUndefined();
    const withStatus = await admin.applyStatus({
      ...object('AcrAccess', namespace, VALID_SPECS[0]!.spec),
      status: {
        observedGeneration: 1,
        conditions: [
          { type: 'Ready', status: 'True', reason: 'Test', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z' },
        ],
      },
    });
    expect(withStatus.status).toMatchObject({ observedGeneration: 1 });
    expect(withStatus.metadata.generation).toBe(created.metadata.generation);
  });

  test('short names and printer columns are served', async ({ admin }) => {
    const info = await admin.request<{ resources: { name: string; shortNames?: string[] }[] }>(
      'GET',
      '/apis/acraccess.io/v1alpha1',
    );
    const names = Object.fromEntries(info.resources.map((r) => [r.name, r.shortNames ?? []]));
    expect(names.acraccesses).toEqual(['acra']);
    expect(names.clusteracraccesses).toEqual(['cacra']);
  });

  test('a tenant without RBAC cannot create a ClusterAcrAccess', async ({ namespace }) => {
    const err = await clientFor('tenant')
      .apply(object('ClusterAcrAccess', namespace, VALID_SPECS[0]!.spec))
      .catch((e: unknown) => e);
    expect((err as KubeApiError).code).toBe(403);
  });
});
