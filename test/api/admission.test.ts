import { beforeAll, describe, expect } from 'vitest';
import { clusterAcrAccessCrd } from '../../src/api/crds.js';
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

  test('the selector bounds are what keeps the CEL rules within the cost budget', async ({ admin }) => {
    // The installed CRDs passed the API server's cost estimate (beforeAll). Without maxProperties on matchLabels the
    // estimate assumes a map as large as a request, and the API server refuses the CRD.
    const unbounded = structuredClone(clusterAcrAccessCrd);
    // Another group, so this is a (dry-run) create that cannot be mistaken for an update of the installed CRD.
    unbounded.spec.group = 'costcheck.acraccess.io';
    unbounded.metadata.name = `${unbounded.spec.names.plural}.${unbounded.spec.group}`;
    const drop = (s: unknown): void => {
      if (typeof s !== 'object' || s === null) return;
      const o = s as Record<string, unknown>;
      if (o.properties && typeof o.properties === 'object' && 'matchLabels' in o.properties) {
        delete (o.properties as Record<string, Record<string, unknown>>).matchLabels!.maxProperties;
      }
      Object.values(o).forEach(drop);
    };
    drop(unbounded);
    const err = await admin.apply(unbounded, { dryRun: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(422);
    expect((err as Error).message).toContain('matchLabels');
    expect((err as Error).message).toContain('estimated rule cost exceeds budget');
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
