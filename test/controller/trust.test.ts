import { createHash } from 'node:crypto';
import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { Operator } from '../../src/controller/operator.js';
import type { KubeClient } from '../../src/kube/client.js';
import type { KubeObject, OwnerReference } from '../../src/kube/types.js';
import { acrAccess, cidrsOf, condition, eventsFor, npRef, waitReady } from '../support/acraccess.js';
import { WRITE_VERBS, auditEvents, clientFor, createNamespace, eventually, test } from '../support/cluster.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../support/operator.js';

let operator: Operator | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await operator?.stop();
  operator = undefined;
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
beforeAll(() => installOperatorPrerequisites(clientFor('admin')));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function otherNamespace(admin: KubeClient, prefix: string): Promise<string> {
  const ns = await createNamespace(admin, prefix);
  cleanups.push(() => admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns }));
  return ns;
}

/** Gives the test identity `tenant` full rights on NetworkPolicies in one namespace, and nothing else. */
async function grantTenantNetworkPolicies(admin: KubeClient, namespace: string): Promise<KubeClient> {
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'tenant-netpol', namespace },
    rules: [{ apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['*'] }],
  });
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'tenant-netpol', namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tenant-netpol' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'tenant' }],
  });
  const tenant = clientFor('tenant');
  await eventually('tenant rights in effect', async () => {
    await tenant.list('networking.k8s.io/v1', 'NetworkPolicy', { namespace });
    return true;
  });
  return tenant;
}

const WIDE = { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ protocol: 'TCP', port: 443 }] };

/** Bumps the spec (a harmless podSelector label) and waits for the status of the new generation. */
async function touch(admin: KubeClient, namespace: string, name: string, value: string) {
  await admin.apply(acrAccess(namespace, name, { podSelector: { matchLabels: { app: 'puller', rev: value } } }));
  return waitReady(admin, namespace, name);
}

const retiringOf = (r: { status?: { addresses?: { retiring?: { prefix: string }[] } } } | undefined) =>
  r?.status?.addresses?.retiring?.map((x) => x.prefix) ?? [];

describe('trust boundaries', () => {
  test('a tenant forging ownership in its own namespace cannot widen or delete anything of another namespace', async ({
    namespace: tenantA,
    admin,
  }) => {
    const tenantB = await otherNamespace(admin, 'tenant-b');
    operator = await startTestOperator(tenantA, { watchedNamespaces: [tenantA, tenantB] });
    await admin.apply(acrAccess(tenantB, 'victim'));
    const victim = await waitReady(admin, tenantB, 'victim');
    const want = cidrsOf(await admin.get(npRef(tenantB, 'acr-access-victim')));
    const tenant = await grantTenantNetworkPolicies(admin, tenantA);
    const forged = (name: string, ownerReferences?: OwnerReference[]): KubeObject => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name,
        namespace: tenantA,
        labels: {
          'app.kubernetes.io/managed-by': 'acr-access-operator',
          'acraccess.io/owner-kind': 'AcrAccess',
          'acraccess.io/owner-name': 'victim',
          'acraccess.io/owner-namespace': tenantB,
        },
        annotations: { 'acraccess.io/owner': `AcrAccess/${tenantB}/victim`, 'acraccess.io/spec-hash': 'forged' },
        ...(ownerReferences ? { ownerReferences } : {}),
      },
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [WIDE] },
    });
    await tenant.create(forged('acr-access-victim'));
    // The same, with a controller reference naming the victim's uid (a namespaced owner in another namespace).
    await tenant.create(
      forged('acr-access-victim-2', [
        {
          apiVersion: 'acraccess.io/v1alpha1',
          kind: 'AcrAccess',
          name: 'victim',
          uid: victim.metadata.uid!,
          controller: true,
        },
      ]),
    );
    await sleep(1500);
    const after = await touch(admin, tenantB, 'victim', 'after-forgery');
    await operator.manager.idle();
    expect(cidrsOf(await admin.get(npRef(tenantB, 'acr-access-victim')))).toEqual(want);
    expect(retiringOf(after)).toEqual([]);
    expect(after.status?.applied?.prefixes).not.toContain('0.0.0.0/0');
    const deletesInA = await auditEvents(
      (e) => e.user.username === 'acr-access-operator' && WRITE_VERBS.has(e.verb) && e.objectRef?.namespace === tenantA,
    );
    expect(deletesInA.map((e) => `${e.verb} ${e.objectRef?.name}`)).toEqual([]);
    expect(await admin.get(npRef(tenantA, 'acr-access-victim'))).toBeDefined();
  });

  test('a widened managed policy with a recomputed hash is restored at once, not kept as retiring', async ({
    namespace,
    admin,
  }) => {
    operator = await startTestOperator(namespace);
    await admin.apply(acrAccess(namespace, 'web'));
    await waitReady(admin, namespace, 'web');
    const live = (await admin.get(npRef(namespace, 'acr-access-web')))!;
    const want = cidrsOf(live);
    const spec = live.spec as { egress: unknown[] };
    const widened = { ...spec, egress: [WIDE, ...spec.egress] };
    const edit = clientFor('admin', 'kubectl-edit');
    await edit.request('PUT', `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies/acr-access-web`, {
      body: {
        ...live,
        // The hash an earlier version trusted as proof that a spec was its own, recomputed by the editor.
        metadata: {
          ...live.metadata,
          annotations: { ...live.metadata.annotations, 'acraccess.io/spec-hash': forgedHash(widened) },
        },
        spec: widened,
      },
    });
    await eventually('restored', async () => {
      const np = await admin.get(npRef(namespace, 'acr-access-web'));
      return JSON.stringify(cidrsOf(np)) === JSON.stringify(want);
    });
    const r = await touch(admin, namespace, 'web', 'after-edit');
    expect(retiringOf(r)).toEqual([]);
    expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-web')))).toEqual(want);
  });

  test("a user's object with the derived name is never taken over: Stalled names it, and deleting it lets ours in", async ({
    namespace,
    admin,
  }) => {
    const mine: KubeObject = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'acr-access-web', namespace },
      spec: { podSelector: { matchLabels: { mine: 'yes' } }, policyTypes: ['Ingress'] },
    };
    await admin.create(mine);
    operator = await startTestOperator(namespace);
    await admin.apply(acrAccess(namespace, 'web'));
    const r = await waitReady(admin, namespace, 'web', 'False');
    expect(condition(r as never, 'Stalled')).toMatchObject({ status: 'True', reason: 'NameConflict' });
    expect(condition(r as never, 'Stalled')?.message).toContain(`NetworkPolicy ${namespace}/acr-access-web`);
    const untouched = await admin.get(npRef(namespace, 'acr-access-web'));
    expect(untouched?.spec).toEqual(mine.spec);
    expect(untouched?.metadata.ownerReferences).toBeUndefined();
    expect(r.status?.objects).toEqual([]);

    // An AcrAccess and a ClusterAcrAccess of the same name derive different names by construction.
    await admin.apply(acrAccess(namespace, 'cluster-web'));
    await waitReady(admin, namespace, 'cluster-web');

    await admin.delete(npRef(namespace, 'acr-access-web'));
    const np = await eventually(
      'our policy created once the name is free',
      async () => {
        const o = await admin.get(npRef(namespace, 'acr-access-web'));
        return o?.metadata.ownerReferences?.[0]?.uid === r.metadata.uid ? o : undefined;
      },
      60_000,
    );
    expect(cidrsOf(np).length).toBeGreaterThan(0);
    await waitReady(admin, namespace, 'web');
  });

  test('a write the API server refuses for good is Stalled with its message, and not retried hot', async ({
    namespace,
    admin,
  }) => {
    const policy = `deny-netpol-${namespace}`;
    await admin.apply({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: policy },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['networking.k8s.io'],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['networkpolicies'],
            },
          ],
        },
        validations: [{ expression: 'false', message: 'egress policies are frozen in this namespace' }],
      },
    });
    await admin.apply({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: policy },
      spec: {
        policyName: policy,
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } },
      },
    });
    cleanups.push(() =>
      admin.delete({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        name: policy,
      }),
    );
    cleanups.push(() =>
      admin.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', name: policy }),
    );
    // Admission policies take effect asynchronously: wait until a probe write is refused.
    await eventually('admission policy in force', async () => {
      try {
        await admin.create({ ...npProbe(namespace) }, { dryRun: true });
        return false;
      } catch {
        return true;
      }
    });
    operator = await startTestOperator(namespace, { resyncMs: 60_000 });
    await admin.apply(acrAccess(namespace, 'web'));
    const r = await waitReady(admin, namespace, 'web', 'False');
    expect(condition(r as never, 'Stalled')).toMatchObject({ status: 'True', reason: 'WriteRejected' });
    expect(condition(r as never, 'Stalled')?.message).toContain('egress policies are frozen in this namespace');
    const key = `AcrAccess/${namespace}/web`;
    const before = operator.manager.reconcileCounts.get(key) ?? 0;
    await sleep(3000);
    expect((operator.manager.reconcileCounts.get(key) ?? 0) - before).toBeLessThanOrEqual(1);
  });

  test('a grace period longer than a Node timer does not busy-loop', async ({ namespace, admin }) => {
    operator = await startTestOperator(namespace, { graceMs: 30 * 86_400_000 });
    await admin.apply(
      acrAccess(namespace, 'web', {
        registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus', 'westeurope'] },
      }),
    );
    await waitReady(admin, namespace, 'web');
    await admin.apply(acrAccess(namespace, 'web'));
    const r = await waitReady(admin, namespace, 'web');
    expect(retiringOf(r).length).toBeGreaterThan(0);
    await operator.manager.idle();
    const key = `AcrAccess/${namespace}/web`;
    const before = operator.manager.reconcileCounts.get(key) ?? 0;
    await sleep(3000);
    expect((operator.manager.reconcileCounts.get(key) ?? 0) - before).toBeLessThanOrEqual(1);
  });

  test('switching to Audit leaves what was written in force, and status says so', async ({ namespace, admin }) => {
    operator = await startTestOperator(namespace);
    await admin.apply(acrAccess(namespace, 'web'));
    await waitReady(admin, namespace, 'web');
    const before = await admin.get(npRef(namespace, 'acr-access-web'));
    await admin.apply(acrAccess(namespace, 'web', { mode: 'Audit' }));
    const r = await waitReady(admin, namespace, 'web');
    expect(condition(r as never, 'Ready')?.reason).toBe('Audited');
    expect(condition(r as never, 'Ready')?.message).toContain('1 written before Audit stay in force unchanged');
    expect(r.status?.planes?.pod).toBe('Enforced');
    expect(r.status?.objects).toEqual([
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace, name: 'acr-access-web' },
    ]);
    expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-web')))).toEqual(cidrsOf(before));
  });

  test('a Stalled resource records its Warning once, not on every resync or restart', async ({ namespace, admin }) => {
    const options = { allowedRegistries: ['fabrikam*.azurecr.io'], resyncMs: 1000 };
    operator = await startTestOperator(namespace, options);
    await admin.apply(acrAccess(namespace, 'web'));
    await waitReady(admin, namespace, 'web', 'False');
    await sleep(3500);
    await operator.stop();
    operator = await startTestOperator(namespace, options);
    await sleep(2500);
    await operator.manager.idle();
    const warnings = (await eventsFor(admin, namespace, 'web')).filter((e) => e.type === 'Warning');
    expect(warnings.map((e) => e.reason)).toEqual(['RegistryNotAllowed']);
    expect(operator.manager.stats.reconciles).toBeGreaterThanOrEqual(2);
  });

  test('namespaceSelector {} leaves out system namespaces and the operator namespace unless named', async ({
    namespace,
    admin,
  }) => {
    const own = await otherNamespace(admin, 'operator');
    await bindOperatorNamespace(admin, own);
    operator = await startTestOperator(own, { watchedNamespaces: [namespace, own, 'kube-system'] });
    const name = `all-${namespace}`;
    const ref = { apiVersion: 'acraccess.io/v1alpha1', kind: 'ClusterAcrAccess', name };
    const cluster = (namespaceSelector: unknown) => ({
      apiVersion: 'acraccess.io/v1alpha1',
      kind: 'ClusterAcrAccess',
      metadata: { name },
      spec: {
        registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus'] },
        addressSources: ['ServiceTags'],
        namespaceSelector,
      },
    });
    cleanups.push(() => admin.delete(ref));
    await admin.apply(cluster({}));
    const npName = `cluster-acr-access-${name}`;
    await eventually('policy in the tenant namespace', () => admin.get(npRef(namespace, npName)));
    const ready = await eventually('Ready', async () => {
      const r = await admin.get(ref);
      return condition(r, 'Ready')?.status === 'True' ? r : undefined;
    });
    expect(condition(ready, 'Ready')?.message).toContain(`namespaces kube-system, ${own} match namespaceSelector`);
    expect(await admin.get(npRef('kube-system', npName))).toBeUndefined();
    expect(await admin.get(npRef(own, npName))).toBeUndefined();

    await admin.apply(
      cluster({
        matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['kube-system', namespace] }],
      }),
    );
    await eventually('named explicitly: selected', () => admin.get(npRef('kube-system', npName)));
  });
});

describe('the shipped RBAC', () => {
  test('is enough for a whole lifecycle: no request of the operator is forbidden', async ({ namespace, admin }) => {
    await bindOperatorNamespace(admin, namespace);
    operator = await startTestOperator(namespace);
    await admin.apply(acrAccess(namespace, 'web'));
    await waitReady(admin, namespace, 'web');
    await admin.apply(
      acrAccess(namespace, 'web', { registry: { loginServer: 'contoso.azurecr.io', regions: ['westeurope'] } }),
    );
    await waitReady(admin, namespace, 'web');
    await admin.apply(acrAccess(namespace, 'refused', { backends: ['Cilium'] }));
    await waitReady(admin, namespace, 'refused', 'False');
    await admin.apply(acrAccess(namespace, 'web', { mode: 'Audit' }));
    await waitReady(admin, namespace, 'web');
    await operator.manager.idle();
    const mine = await auditEvents(
      (e) =>
        e.user.username === 'acr-access-operator' && (!e.objectRef?.namespace || e.objectRef.namespace === namespace),
    );
    const verbs = new Set(
      mine.map(
        (e) => `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`,
      ),
    );
    for (const used of ['create networkpolicies', 'patch networkpolicies', 'patch acraccesses/status', 'create events'])
      expect(verbs).toContain(used);
    expect(mine.filter((e) => e.responseStatus?.code === 403).map((e) => `${e.verb} ${e.objectRef?.resource}`)).toEqual(
      [],
    );
  });
});

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function forgedHash(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 10);
}

function npProbe(namespace: string): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'probe', namespace },
    spec: { podSelector: {}, policyTypes: ['Egress'] },
  };
}
