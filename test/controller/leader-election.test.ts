import { writeFile } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { MICROTIME, type Lease } from '../../src/controller/leader.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import type { KubeClient } from '../../src/kube/client.js';
import { acrAccess, waitReady } from '../support/acraccess.js';
import { WRITE_VERBS, auditEvents, clientFor, controlPlane, eventually, test } from '../support/cluster.js';
import {
  bindOperatorNamespace,
  installOperatorPrerequisites,
  scrapeMetrics,
  spawnOperator,
  type SpawnedOperator,
} from '../support/operator.js';
import { TcpProxy } from '../support/tcp-proxy.js';

// Several `acr-access run` processes with leader election on (the default) against the real control plane: only the
// Lease holder writes; SIGKILL costs one lease duration, SIGTERM hands over at once; a leader that loses the lease
// exits non-zero.

const LEASE = 'acr-access-operator';
const replicas: SpawnedOperator[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async ({ task }) => {
  if (task.result?.state === 'fail')
    for (const r of replicas) console.error(`--- replica logs\n${r.logs.map((l) => JSON.stringify(l)).join('\n')}`);
  await Promise.all(replicas.splice(0).map((r) => r.kill('SIGKILL')));
  for (const c of cleanups.splice(0).reverse()) await c();
});
beforeAll(() => installOperatorPrerequisites(clientFor('admin')));

const leaseRef = (namespace: string) => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  namespace,
  name: LEASE,
});
const getLease = (admin: KubeClient, namespace: string) => admin.get<Lease>(leaseRef(namespace));

async function replica(namespace: string, extra: string[] = []): Promise<SpawnedOperator & { id: string }> {
  const r = await spawnOperator(namespace, extra);
  replicas.push(r);
  return Object.assign(r, { id: await r.identity() });
}

/** Milliseconds from now until `identity` holds the lease (polled every 50 ms). */
async function timeUntilHeld(admin: KubeClient, namespace: string, identity: string, timeoutMs: number) {
  const start = performance.now();
  await eventually(
    `${identity} holds the lease`,
    async () => (await getLease(admin, namespace))?.spec?.holderIdentity === identity,
    timeoutMs,
    50,
  );
  return performance.now() - start;
}

const ready = async (r: SpawnedOperator) =>
  (await fetch(`http://127.0.0.1:${r.healthPort}/readyz`, { signal: AbortSignal.timeout(2000) })).ok;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('leader election between operator processes', () => {
  test('one replica leads and writes, the other is Ready and writes nothing; the Lease has MicroTimes', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    const a = await replica(namespace);
    await timeUntilHeld(admin, namespace, a.id, 30_000);
    const b = await replica(namespace);
    // Readiness does not wait for leadership, or a rolling update could never replace the leader.
    await eventually('the follower is Ready', () => ready(b), 30_000);

    const names = ['one', 'two', 'three'];
    for (const name of names) await admin.apply(acrAccess(namespace, name));
    for (const name of names) await waitReady(admin, namespace, name);

    const first = (await getLease(admin, namespace))!.spec!;
    expect(first).toMatchObject({ holderIdentity: a.id, leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(first.acquireTime).toMatch(MICROTIME);
    expect(first.renewTime).toMatch(MICROTIME);
    await new Promise((r) => setTimeout(r, 2500));
    const later = (await getLease(admin, namespace))!.spec!;
    expect(later.acquireTime).toBe(first.acquireTime);
    expect(Date.parse(later.renewTime!)).toBeGreaterThan(Date.parse(first.renewTime!));

    const [ma, mb] = await Promise.all([scrapeMetrics(a.healthPort), scrapeMetrics(b.healthPort)]);
    expect(ma.value('leader_election_master_status', { name: LEASE })).toBe(1);
    expect(mb.value('leader_election_master_status', { name: LEASE })).toBe(0);
    expect(ma.value('controller_runtime_reconcile_total', { result: 'success' })).toBeGreaterThanOrEqual(3);
    expect(mb.value('controller_runtime_reconcile_total') ?? 0).toBe(0);

    // The audit log tells the replicas apart by User-Agent (they share one identity, as pods share a service account).
    const ours = await auditEvents((e) => e.user.username === 'acr-access-operator');
    const of = (r: { id: string }) => ours.filter((e) => e.userAgent?.endsWith(`(${r.id})`));
    const writes = (r: { id: string }) =>
      of(r).filter((e) => WRITE_VERBS.has(e.verb) && e.objectRef?.namespace === namespace);
    expect(of(b).length).toBeGreaterThan(0); // it is there, reading the Lease
    expect(writes(b).map((e) => `${e.verb} ${e.objectRef?.resource}`)).toEqual([]);
    const resources = new Set(writes(a).map((e) => `${e.objectRef?.resource}/${e.objectRef?.subresource ?? ''}`));
    expect(resources).toContain('networkpolicies/');
    expect(resources).toContain('acraccesses/status');
    expect(resources).toContain('leases/');
  });

  test('SIGTERM: the leader finishes, releases the Lease, and the other takes over in under 3 s', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    const a = await replica(namespace);
    await timeUntilHeld(admin, namespace, a.id, 30_000);
    const b = await replica(namespace);
    await eventually('the follower is Ready', () => ready(b), 30_000);
    await admin.apply(acrAccess(namespace, 'before'));
    await waitReady(admin, namespace, 'before');

    const exit = a.kill('SIGTERM');
    const takeover = await timeUntilHeld(admin, namespace, b.id, 10_000);
    expect(await exit).toBe(0);
    const at = (msg: string) => a.logs.find((l) => l.msg === msg)?.time as number;
    const released = at('leader election: released the lease') - at('shutting down: finishing in-flight reconciles');
    console.log(
      `SIGTERM hand-over: ${(takeover / 1000).toFixed(2)} s from the signal to the new holder (released after ${(released / 1000).toFixed(2)} s)`,
    );
    expect(released).toBeGreaterThanOrEqual(0);
    // A protocol property: the follower takes a released lease on its next poll (retry period 2 s + jitter).
    expect(takeover).toBeLessThan(3000);

    const lease = (await getLease(admin, namespace))!.spec!;
    expect(lease).toMatchObject({ holderIdentity: b.id, leaseDurationSeconds: 15, leaseTransitions: 1 });
    expect(lease.acquireTime).toMatch(MICROTIME);
    // The new leader reconciles.
    await admin.apply(acrAccess(namespace, 'after'));
    await waitReady(admin, namespace, 'after');
    const mb = await scrapeMetrics(b.healthPort);
    expect(mb.value('leader_election_master_status', { name: LEASE })).toBe(1);
    expect(mb.value('controller_runtime_reconcile_total', { result: 'success' })).toBeGreaterThanOrEqual(1);
  });

  test('SIGKILL: the follower takes over once the lease expires, never before (3 runs, median printed)', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    let leader = await replica(namespace);
    await timeUntilHeld(admin, namespace, leader.id, 30_000);
    let follower = await replica(namespace);
    const failovers: number[] = [];
    for (let run = 0; run < 3; run++) {
      await eventually('the follower has read the lease', () => ready(follower), 30_000);
      const transitions = (await getLease(admin, namespace))!.spec!.leaseTransitions!;
      const start = performance.now();
      await leader.kill('SIGKILL');
      await timeUntilHeld(admin, namespace, follower.id, 30_000);
      const ms = performance.now() - start;
      failovers.push(ms);
      // The dead leader renewed at most a retry period (2 s) before the kill, and its lease lasts 15 s.
      expect(ms).toBeGreaterThanOrEqual(13_000);
      expect(ms).toBeLessThan(22_000);
      expect((await getLease(admin, namespace))!.spec!.leaseTransitions).toBe(transitions + 1);
      // As a Deployment would: a new pod replaces the killed one and stands by.
      [leader, follower] = [follower, await replica(namespace)];
    }
    console.log(
      `SIGKILL fail-over: median ${(median(failovers) / 1000).toFixed(2)} s (runs: ${failovers.map((x) => (x / 1000).toFixed(2)).join(', ')} s)`,
    );
    await admin.apply(acrAccess(namespace, 'after-failover'));
    await waitReady(admin, namespace, 'after-failover');
    expect((await scrapeMetrics(leader.healthPort)).value('leader_election_master_status', { name: LEASE })).toBe(1);
  });

  test('a leader that loses the lease exits non-zero at once: another holder, or no renewal within 10 s', async ({
    namespace,
    admin,
  }) => {
    await bindOperatorNamespace(admin, namespace);
    // Another holder: someone overwrote the Lease (the leader's next renewal gets a 409, reads it, and stops).
    const a = await replica(namespace);
    await timeUntilHeld(admin, namespace, a.id, 30_000);
    const lease = (await getLease(admin, namespace))!;
    const start = performance.now();
    await admin.request('PUT', `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${LEASE}`, {
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder' } },
    });
    expect(await a.exited).toBe(1);
    expect(performance.now() - start).toBeLessThan(4000);
    expect(a.logs.find((l) => l.msg === 'leader election: lost the lease')?.reason).toMatch(/held by intruder/);

    // No renewal: the leader's connection to the API server is cut; the renew deadline (10 s) ends it.
    await admin.delete(leaseRef(namespace));
    const proxy = new TcpProxy('127.0.0.1', Number(new URL(controlPlane().server).port));
    const port = await proxy.start();
    cleanups.push(() => proxy.stop());
    const kc = loadKubeConfig({ kubeconfig: controlPlane().kubeconfigs.operator });
    kc.clusters = kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${port}` }));
    const kubeconfig = `${controlPlane().workDir}/operator-via-proxy-${namespace}.kubeconfig`;
    await writeFile(kubeconfig, kc.exportConfig());
    const c = await replica(namespace, [`--kubeconfig=${kubeconfig}`]);
    await timeUntilHeld(admin, namespace, c.id, 30_000);
    await proxy.pause();
    const cut = performance.now();
    expect(await c.exited).toBe(1);
    const ms = performance.now() - cut;
    console.log(`renew deadline: the cut-off leader exited after ${(ms / 1000).toFixed(2)} s`);
    expect(ms).toBeGreaterThanOrEqual(8000); // renewed at most 2 s before the cut
    expect(ms).toBeLessThan(12_000);
    expect(c.logs.find((l) => l.msg === 'leader election: lost the lease')?.reason).toMatch(/renew deadline/);
  });
});
