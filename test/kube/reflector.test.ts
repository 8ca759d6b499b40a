import { afterEach, describe, expect } from 'vitest';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { Reflector } from '../../src/kube/reflector.js';
import type { KubeObject } from '../../src/kube/types.js';
import { apiserver, controlPlane, eventually, test } from '../support/cluster.js';
import { TcpProxy } from '../support/tcp-proxy.js';

type Seen = { type: 'add' | 'update' | 'delete'; name: string; value?: string | undefined };

const cm = (namespace: string, name: string, value: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data: { value },
});

function recordingReflector(client: KubeClient, namespace: string) {
  const seen: Seen[] = [];
  const value = (o: KubeObject) => (o.data as Record<string, string> | undefined)?.value;
  const reflector = new Reflector({
    client,
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace,
    labelSelector: 'test=reflector',
    backoff: { baseMs: 200, maxMs: 1000 },
    onAdd: (o) => seen.push({ type: 'add', name: o.metadata.name, value: value(o) }),
    onUpdate: (o) => seen.push({ type: 'update', name: o.metadata.name, value: value(o) }),
    onDelete: (o) => seen.push({ type: 'delete', name: o.metadata.name }),
  });
  return { seen, reflector };
}

const labelled = (o: KubeObject): KubeObject => ({ ...o, metadata: { ...o.metadata, labels: { test: 'reflector' } } });

/** A client whose connections go through a proxy the test can cut, while the test's own admin client stays up. */
async function clientBehindProxy(): Promise<{ client: KubeClient; proxy: TcpProxy }> {
  const { server, kubeconfigs } = controlPlane();
  const url = new URL(server);
  const proxy = new TcpProxy('127.0.0.1', Number(url.port));
  const port = await proxy.start();
  const kc = loadKubeConfig({ kubeconfig: kubeconfigs.admin });
  const cluster = kc.getCurrentCluster()!;
  kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${port}` } : c));
  return { client: new KubeClient(kc, { fieldManager: 'test-reflector' }), proxy };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('Reflector against the real API server', () => {
  test('lists existing objects, then sees create, update and delete', async ({ namespace, admin }) => {
    await admin.apply(labelled(cm(namespace, 'before', '0')));
    await admin.apply(cm(namespace, 'unlabelled', 'ignored'));
    const { seen, reflector } = recordingReflector(admin, namespace);
    cleanups.push(() => reflector.stop());
    await reflector.start();
    expect(reflector.hasSynced()).toBe(true);
    expect(reflector.list().map((o) => o.metadata.name)).toEqual(['before']);

    await admin.apply(labelled(cm(namespace, 'after', '1')));
    await admin.apply(labelled(cm(namespace, 'after', '2')));
    await admin.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'before' });
    await eventually('delete seen', async () => seen.some((s) => s.type === 'delete'));
    expect(seen).toEqual([
      { type: 'add', name: 'before', value: '0' },
      { type: 'add', name: 'after', value: '1' },
      { type: 'update', name: 'after', value: '2' },
      { type: 'delete', name: 'before' },
    ]);
    expect(reflector.get('after', namespace)?.data).toEqual({ value: '2' });
  });

  test('metadata only: an empty list, then changes arrive as the watched kind without their data', async ({
    namespace,
    admin,
  }) => {
    const seen: string[] = [];
    const reflector = new Reflector({
      client: admin,
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace,
      fieldSelector: 'metadata.name=feed',
      metadataOnly: true,
      onAdd: (o) => seen.push(`add ${o.kind} ${o.metadata.name} ${JSON.stringify(o.data)}`),
      onUpdate: (o) => seen.push(`update ${o.kind} ${o.metadata.name} ${JSON.stringify(o.data)}`),
    });
    cleanups.push(() => reflector.stop());
    await reflector.start(); // the empty metadata-only list says items: null
    await admin.apply(cm(namespace, 'feed', '1'));
    await admin.apply(cm(namespace, 'feed', '2'));
    await eventually('update seen', async () => seen.length === 2);
    expect(seen).toEqual(['add ConfigMap feed undefined', 'update ConfigMap feed undefined']);
  });

  test('kube-apiserver restarted mid-watch: the watch resumes and changes made during the outage arrive', async ({
    namespace,
    admin,
  }) => {
    const { client, proxy } = await clientBehindProxy();
    cleanups.push(() => proxy.stop());
    await admin.apply(labelled(cm(namespace, 'stays', 'v1')));
    await admin.apply(labelled(cm(namespace, 'goes', 'v1')));
    const { seen, reflector } = recordingReflector(client, namespace);
    cleanups.push(() => reflector.stop());
    await reflector.start();
    const watchesBefore = reflector.stats.watches;

    // The watcher loses its connection and cannot reconnect; the API server restarts; changes happen meanwhile.
    await proxy.pause();
    await apiserver.restart();
    await admin.apply(labelled(cm(namespace, 'stays', 'v2')));
    await admin.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'goes' });
    await admin.apply(labelled(cm(namespace, 'new', 'v1')));
    expect(seen.filter((s) => s.type !== 'add' || s.name === 'new')).toEqual([]);
    await proxy.resume();

    await eventually('outage changes delivered', async () => seen.length >= 5);
    expect(seen.slice(2)).toEqual(
      expect.arrayContaining([
        { type: 'update', name: 'stays', value: 'v2' },
        { type: 'delete', name: 'goes' },
        { type: 'add', name: 'new', value: 'v1' },
      ]),
    );
    expect(
      reflector
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['new', 'stays']);
    expect(reflector.stats.watches).toBeGreaterThan(watchesBefore);
    expect(reflector.stats.errors).toBeGreaterThan(0);

    // And it keeps watching after recovery.
    await admin.apply(labelled(cm(namespace, 'stays', 'v3')));
    await eventually(
      'post-recovery update',
      async () => (reflector.get('stays', namespace)?.data as { value?: string })?.value === 'v3',
    );
  });

  test('a resourceVersion too old for the restarted server (410 Gone) forces a relist', async ({
    namespace,
    admin,
  }) => {
    const { client, proxy } = await clientBehindProxy();
    cleanups.push(() => proxy.stop());
    await admin.apply(labelled(cm(namespace, 'a', '1')));
    const { seen, reflector } = recordingReflector(client, namespace);
    cleanups.push(() => reflector.stop());
    await reflector.start();
    expect(reflector.stats.lists).toBe(1);

    // After a restart the watch cache begins at the current revision; writes before it make the reflector's
    // resourceVersion older than anything the server can replay.
    await proxy.pause();
    await admin.apply(labelled(cm(namespace, 'a', '2')));
    await apiserver.restart();
    await admin.apply(cm(namespace, 'bump', 'x'));
    await proxy.resume();

    await eventually('relisted', async () => reflector.stats.lists >= 2);
    await eventually('update seen', async () => seen.some((s) => s.type === 'update' && s.value === '2'));
    expect(reflector.get('a', namespace)?.data).toEqual({ value: '2' });
  });
});
