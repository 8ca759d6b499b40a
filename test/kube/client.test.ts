import { describe, expect } from 'vitest';
import { KubeApiError } from '../../src/kube/errors.js';
import { clientFor, test } from '../support/cluster.js';

const configMap = (namespace: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'ssa', namespace },
  data,
});

describe('KubeClient against the real API server', () => {
  test('server-side apply creates, updates, and a repeated apply is a no-op', async ({ namespace }) => {
    const client = clientFor('admin', 'acr-access-test');
    const created = await client.apply(configMap(namespace, { a: '1' }));
    expect(created.metadata.uid).toBeTruthy();
    const managers = (created.metadata.managedFields as { manager: string; operation: string }[]).map(
      (f) => `${f.manager}/${f.operation}`,
    );
    expect(managers).toEqual(['acr-access-test/Apply']);

    const updated = await client.apply(configMap(namespace, { a: '2' }));
    expect(updated.data).toEqual({ a: '2' });
    expect(updated.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);

    const again = await client.apply(configMap(namespace, { a: '2' }));
    expect(again.metadata.resourceVersion).toBe(updated.metadata.resourceVersion);
  });

  test('a server-side dry run validates without persisting', async ({ namespace }) => {
    const client = clientFor('admin');
    const dry = await client.apply(configMap(namespace, { x: 'y' }), { dryRun: true });
    expect(dry.data).toEqual({ x: 'y' });
    expect(await client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'ssa' })).toBeUndefined();
  });

  test('list pages through every item and keeps kind and apiVersion on each', async ({ namespace }) => {
    const client = clientFor('admin');
    for (let i = 0; i < 7; i++) {
      await client.apply({ ...configMap(namespace, {}), metadata: { name: `cm-${i}`, namespace } });
    }
    const listed = await client.list('v1', 'ConfigMap', { namespace, pageSize: 3 });
    const names = listed.items.map((i) => i.metadata.name).filter((n) => n.startsWith('cm-'));
    expect(names.sort()).toEqual(['cm-0', 'cm-1', 'cm-2', 'cm-3', 'cm-4', 'cm-5', 'cm-6']);
    expect(listed.items.every((i) => i.kind === 'ConfigMap' && i.apiVersion === 'v1')).toBe(true);
    expect(Number(listed.resourceVersion)).toBeGreaterThan(0);
  });

  test('delete honours a uid precondition and leaves another object alone', async ({ namespace }) => {
    const client = clientFor('admin');
    const live = await client.apply(configMap(namespace, { keep: 'me' }));
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'ssa' };
    const err = await client.delete(ref, { uid: '00000000-0000-0000-0000-000000000000' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(409);
    expect(await client.get(ref)).toBeDefined();
    expect(await client.delete(ref, { uid: live.metadata.uid })).toBe(true);
    expect(await client.delete(ref)).toBe(false);
  });

  test('discovery says which kinds are served', async () => {
    const client = clientFor('admin');
    expect(await client.discovery.isServed('networking.k8s.io/v1', 'NetworkPolicy')).toBe(true);
    expect(await client.discovery.isServed('coordination.k8s.io/v1', 'Lease')).toBe(true);
    expect(await client.discovery.isServed('networking.k8s.io/v1', 'NoSuchKind')).toBe(false);
    expect(await client.discovery.isServed('nothing.example.invalid/v1', 'Thing')).toBe(false);
    const np = await client.resource('networking.k8s.io/v1', 'NetworkPolicy');
    expect(np).toMatchObject({ plural: 'networkpolicies', namespaced: true });
  });

  test('the restricted tenant identity is denied by RBAC until granted', async ({ namespace, admin }) => {
    const tenant = clientFor('tenant');
    await admin.apply(configMap(namespace, { visible: 'after grant' }));
    const err = await tenant.list('v1', 'ConfigMap', { namespace }).catch((e: unknown) => e);
    expect((err as KubeApiError).code).toBe(403);
    await admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'test-configmap-reader' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
    });
    await admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'tenant-reads-configmaps', namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'test-configmap-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'tenant' }],
    });
    const listed = await tenant.list('v1', 'ConfigMap', { namespace });
    expect(listed.items.map((i) => i.metadata.name)).toContain('ssa');
    const elsewhere = await tenant.list('v1', 'ConfigMap', { namespace: 'default' }).catch((e: unknown) => e);
    expect((elsewhere as KubeApiError).code).toBe(403);
  });
});
