import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { Operator } from '../../src/controller/operator.js';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { acrAccess, cidrsOf, getAcrAccess, npRef, waitReady } from '../support/acraccess.js';
import { WRITE_VERBS, apiserver, auditEvents, clientFor, controlPlane, eventually, test } from '../support/cluster.js';
import { deriveFeed, expectedCover, putFeed, realFeed, tagPrefixes } from '../support/feeds.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../support/operator.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { freePort } from '../controlplane/process.js';

let operator: Operator | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await operator?.stop();
  operator = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
});
beforeAll(() => installOperatorPrerequisites(clientFor('admin')));

const base = realFeed();
const EASTUS = ['AzureContainerRegistry.EastUS', 'Storage.EastUS'];
const WESTEUROPE = ['AzureContainerRegistry.WestEurope', 'Storage.WestEurope'];

const operatorWrites = async (namespace: string) =>
  (await auditEvents((e) => e.user.username === 'acr-access-operator' && WRITE_VERBS.has(e.verb))).filter(
    (e) => !e.objectRef?.namespace || e.objectRef.namespace === namespace,
  );

describe('the controller under failure', () => {
  test('steady state: several resync periods with nothing changed make zero write requests', async ({
    namespace,
    admin,
  }) => {
    operator = await startTestOperator(namespace, { resyncMs: 1500 });
    for (const name of ['a', 'b', 'c']) await admin.apply(acrAccess(namespace, name));
    for (const name of ['a', 'b', 'c']) await waitReady(admin, namespace, name);
    await operator.manager.idle();
    await new Promise((r) => setTimeout(r, 1000));
    const before = (await operatorWrites(namespace)).length;
    const reconcilesBefore = operator.manager.stats.reconciles;
    await new Promise((r) => setTimeout(r, 5000));
    await operator.manager.idle();
    const writes = (await operatorWrites(namespace)).slice(before);
    expect(operator.manager.stats.reconciles - reconcilesBefore).toBeGreaterThanOrEqual(6);
    expect(writes.map((w) => `${w.verb} ${w.objectRef?.resource}/${w.objectRef?.name}`)).toEqual([]);
    expect(before).toBeGreaterThan(0);
  });

  test('kube-apiserver restarted while the operator runs, and a change made during the outage: it converges after', async ({
    namespace,
    admin,
  }) => {
    const url = new URL(controlPlane().server);
    const proxy = new TcpProxy('127.0.0.1', Number(url.port));
    const port = await proxy.start();
    cleanups.push(() => proxy.stop());
    const kc = loadKubeConfig({ kubeconfig: controlPlane().kubeconfigs.operator });
    kc.clusters = kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${port}` }));
    const kubeconfigFile = `${controlPlane().workDir}/operator-via-proxy-${namespace}.kubeconfig`;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(kubeconfigFile, kc.exportConfig());
    operator = await startTestOperator(namespace, {}, kubeconfigFile);
    await admin.apply(acrAccess(namespace, 'contoso'));
    await waitReady(admin, namespace, 'contoso');

    await proxy.pause();
    await apiserver.restart();
    await admin.apply(
      acrAccess(namespace, 'contoso', {
        registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus', 'westeurope'] },
      }),
    );
    await admin.apply(acrAccess(namespace, 'created-during-outage'));
    await proxy.resume();

    await waitReady(admin, namespace, 'contoso', 'True', 60_000);
    expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-contoso')))).toEqual(
      expectedCover(base, ...EASTUS, ...WESTEUROPE),
    );
    await waitReady(admin, namespace, 'created-during-outage', 'True', 60_000);
    expect(operator.manager.healthy()).toBe(true);
  });

  test('operator killed (SIGKILL) mid-reconcile and restarted, many times: no duplicate, no orphan, retiring kept', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    await putFeed(admin, namespace, 'service-tags', JSON.stringify(base));
    const names = Array.from({ length: 12 }, (_, i) => `r${i}`);
    const args = [
      '--import',
      'tsx',
      'src/cli/bin.ts',
      'run',
      '--kubeconfig',
      controlPlane().kubeconfigs.operator,
      '--namespace',
      namespace,
      '--watch-namespaces',
      namespace,
      '--service-tags',
      `configmap:${namespace}/service-tags`,
      '--grace-period',
      '1h',
      '--resync',
      '2s',
      '--refresh-interval',
      '1s',
      '--dns',
      'off',
      '--health-address',
      '127.0.0.1:0',
      '--log-level',
      'warn',
      // One process at a time here: a lease would make each restarted process wait out the killed one's.
      '--leader-elect=false',
      // CNI CRDs other tests installed must not make Auto choose a CNI over the NetworkPolicies checked here.
      '--backends=NetworkPolicy',
    ];
    let child: ChildProcess | undefined;
    let healthPort = 0;
    const start = async () => {
      healthPort = await freePort();
      child = spawn(process.execPath, [...args, '--health-address', `127.0.0.1:${healthPort}`], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    };
    const kill = async () => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    };
    cleanups.push(kill);

    await start();
    for (const name of names)
      await admin.apply(acrAccess(namespace, name, { podSelector: { matchLabels: { app: name } } }));
    for (const name of names) await waitReady(admin, namespace, name, 'True', 60_000);

    // A feed change makes one prefix retire; then kill and restart while the operator works.
    const removed = tagPrefixes(base, 'Storage.EastUS')[0]!;
    await putFeed(
      admin,
      namespace,
      'service-tags',
      JSON.stringify(deriveFeed(base, 377, { remove: { 'Storage.EastUS': [removed] } })),
    );
    await eventually(
      'retiring recorded',
      async () => (await getAcrAccess(admin, namespace, 'r0'))?.status?.addresses?.retiring?.length === 1,
      30_000,
    );
    const since = (await getAcrAccess(admin, namespace, 'r0'))!.status!.addresses!.retiring![0]!.since;
    for (let round = 0; round < 6; round++) {
      await kill();
      await start();
      // Touch resources so the next kill lands mid-reconcile.
      for (const name of names.slice(0, 4)) {
        await admin.apply(
          acrAccess(namespace, name, { podSelector: { matchLabels: { app: name, round: String(round) } } }),
        );
      }
      await new Promise((r) => setTimeout(r, 400 + 250 * round));
    }
    await kill();
    await start();
    // Ready alone can be a status from before the feed change (a resource the killed processes never reached):
    // wait until each one reports the new feed.
    for (const name of names) {
      await waitReady(admin, namespace, name, 'True', 60_000);
      await eventually(
        `${name} on feed 377`,
        async () => (await getAcrAccess(admin, namespace, name))?.status?.addresses?.serviceTagsChangeNumber === 377,
        60_000,
      );
    }

    const policies = await admin.list('networking.k8s.io/v1', 'NetworkPolicy', { namespace });
    expect(policies.items.map((p) => p.metadata.name).sort()).toEqual(names.map((n) => `acr-access-${n}`).sort());
    for (const name of names) {
      const r = await getAcrAccess(admin, namespace, name);
      expect(r?.status?.addresses?.retiring?.map((x) => x.prefix)).toEqual([removed]);
      expect(cidrsOf(await admin.get(npRef(namespace, `acr-access-${name}`)))).toContain(removed);
    }
    expect((await getAcrAccess(admin, namespace, 'r0'))!.status!.addresses!.retiring![0]!.since).toBe(since);
    const operatorClient = new KubeClient(loadKubeConfig({ kubeconfig: controlPlane().kubeconfigs.operator }), {
      fieldManager: 'x',
    });
    expect((await operatorClient.list('networking.k8s.io/v1', 'NetworkPolicy', { namespace })).items).toHaveLength(
      names.length,
    );

    // SIGTERM: stop taking work, finish in-flight reconciles, exit 0.
    await eventually('operator ready', async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok);
    const last = child!;
    const exit = new Promise<number | null>((r) => last.once('exit', (code) => r(code)));
    last.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});
