import { describe, expect } from 'vitest';
import { createNamespace, eventually, test } from '../support/cluster.js';

describe('kube-controller-manager in the test control plane', () => {
  test('deleting an owner cascades to its dependents through the garbage collector', async ({ namespace, admin }) => {
    const owner = await admin.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'owner', namespace },
    });
    await admin.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'dependent',
        namespace,
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid!, blockOwnerDeletion: true },
        ],
      },
    });
    const dependent = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'dependent' };
    expect(await admin.get(dependent)).toBeDefined();
    await admin.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'owner' });
    await eventually('dependent collected', async () => (await admin.get(dependent)) === undefined, 60_000, 250);
  });

  test('a deleted namespace really goes away', async ({ admin }) => {
    const name = await createNamespace(admin, 'doomed');
    await admin.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'content', namespace: name } });
    await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name });
    await eventually(
      'namespace gone',
      async () => (await admin.get({ apiVersion: 'v1', kind: 'Namespace', name })) === undefined,
      60_000,
      250,
    );
  });
});
