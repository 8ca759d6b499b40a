import { beforeAll, describe, expect } from 'vitest';
import type { KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import { createNamespace, test } from '../support/cluster.js';
import { TOOLS_TIMEOUT_MS, helmTemplate, kubectl, kubectlOk, only, tools, uniqueRelease } from './support.js';

// The chart's RBAC, bound to the chart's ServiceAccount on the real API server, asked through SubjectAccessReviews:
// everything the operator does is allowed, and nothing else (no `*`, no Secrets, no PUT except the Lease, no
// cluster-wide writes except the policy kinds). That it is enough is proven in deployment.test.ts, where the
// operator runs under this identity and the audit log shows no refused request.

beforeAll(() => tools(), TOOLS_TIMEOUT_MS);

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
type Check = [verb: string, resource: string, namespace: string, allowed: boolean];

/** Applies the chart's RBAC (ServiceAccount, roles, bindings) and returns the ServiceAccount's user name. */
async function installRbac(values: Record<string, unknown>, release: string, namespace: string) {
  const { docs } = await helmTemplate({ crds: { install: false }, ...values }, { release, namespace });
  const rbac = docs.filter((d) => /^(ServiceAccount|(Cluster)?Role(Binding)?)$/.test(d.kind));
  await kubectlOk(['apply', '--server-side', '--field-manager=helm-test', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }),
  });
  const sa = only(docs, 'ServiceAccount').metadata.name;
  return { docs: rbac, user: `system:serviceaccount:${namespace}:${sa}` };
}

/** `resource` is `plural[.group][/subresource]`; an empty namespace asks cluster-wide. */
async function allowed(
  admin: KubeClient,
  user: string,
  ns: string,
  [verb, resource, namespace]: Check,
): Promise<boolean> {
  const [full, subresource] = resource.split('/') as [string, string | undefined];
  const dot = full.indexOf('.');
  const review = await admin.create<KubeObject & { status: { allowed: boolean } }>({
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    metadata: { name: '' },
    spec: {
      user,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
      resourceAttributes: {
        verb,
        group: dot < 0 ? '' : full.slice(dot + 1),
        resource: dot < 0 ? full : full.slice(0, dot),
        ...(subresource ? { subresource } : {}),
        ...(namespace ? { namespace } : {}),
      },
    },
  });
  return review.status.allowed;
}

async function expectMatrix(admin: KubeClient, user: string, ns: string, checks: Check[]): Promise<void> {
  const got = await Promise.all(checks.map(async (c) => [...c.slice(0, 3), await allowed(admin, user, ns, c)]));
  expect(got).toEqual(checks);
}

const POLICY_KINDS = new Set([
  'networkpolicies',
  'ciliumnetworkpolicies',
  'ciliumclusterwidenetworkpolicies',
  'ciliumcidrgroups',
  'globalnetworkpolicies',
  'networksets',
  'globalnetworksets',
  // Calico's tiered-RBAC pseudo-resources, limited to the operator's tier by resourceNames.
  'tier.networkpolicies',
  'tier.globalnetworkpolicies',
]);

/** What any role of the chart may say, whatever the values. */
function expectLeastPrivilege(docs: KubeObject[]): void {
  for (const role of docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role')) {
    for (const rule of (role as KubeObject & { rules: Rule[] }).rules) {
      const where = `${role.kind} ${role.metadata.name}: ${JSON.stringify(rule)}`;
      for (const list of [rule.apiGroups, rule.resources, rule.verbs]) expect(list, where).not.toContain('*');
      expect(rule.resources, where).not.toContain('secrets');
      const writes = rule.verbs.filter((v) => !['get', 'list', 'watch'].includes(v));
      if (writes.includes('update')) expect(rule.resources, where).toEqual(['leases']);
      if (writes.includes('delete')) for (const r of rule.resources) expect(POLICY_KINDS.has(r), where).toBe(true);
      if (role.kind === 'ClusterRole' && writes.length > 0)
        for (const r of rule.resources)
          expect(
            POLICY_KINDS.has(r) ||
              ['tiers', 'events'].includes(r) ||
              r.endsWith('/status') ||
              // The finalizer of spec.azure: patch only.
              (r === 'clusteracraccesses' && writes.join() === 'patch'),
            where,
          ).toBe(true);
    }
  }
}

describe("the chart's RBAC on the real API server", () => {
  test('cluster-wide (default): exactly the operator verbs', { timeout: 120_000 }, async ({ namespace, admin }) => {
    const release = uniqueRelease();
    const other = await createNamespace(admin, 'other');
    try {
      const { docs, user } = await installRbac({}, release, namespace);
      expectLeastPrivilege(docs);
      await expectMatrix(admin, user, namespace, [
        ['list', 'acraccesses.acraccess.io', '', true],
        ['watch', 'clusteracraccesses.acraccess.io', '', true],
        ['patch', 'acraccesses.acraccess.io/status', other, true],
        ['patch', 'clusteracraccesses.acraccess.io/status', '', true],
        ['patch', 'clusteracraccesses.acraccess.io', '', true],
        ['update', 'clusteracraccesses.acraccess.io', '', false],
        ['delete', 'clusteracraccesses.acraccess.io', '', false],
        ['create', 'acraccesses.acraccess.io', other, false],
        ['update', 'acraccesses.acraccess.io', other, false],
        ['delete', 'acraccesses.acraccess.io', other, false],
        ['update', 'acraccesses.acraccess.io/status', other, false],
        ['create', 'networkpolicies.networking.k8s.io', other, true],
        ['patch', 'networkpolicies.networking.k8s.io', other, true],
        ['delete', 'networkpolicies.networking.k8s.io', other, true],
        ['update', 'networkpolicies.networking.k8s.io', other, false],
        ['create', 'ciliumnetworkpolicies.cilium.io', other, true],
        ['create', 'ciliumclusterwidenetworkpolicies.cilium.io', '', true],
        ['delete', 'ciliumcidrgroups.cilium.io', '', true],
        ['create', 'networkpolicies.projectcalico.org', other, true],
        ['patch', 'globalnetworkpolicies.projectcalico.org', '', true],
        ['create', 'networksets.projectcalico.org', other, true],
        ['delete', 'globalnetworksets.projectcalico.org', '', true],
        ['create', 'tiers.projectcalico.org', '', true],
        ['patch', 'tiers.projectcalico.org', '', true],
        ['delete', 'tiers.projectcalico.org', '', false],
        ['list', 'namespaces', '', true],
        ['create', 'namespaces', '', false],
        ['delete', 'namespaces', other, false],
        ['create', 'events.events.k8s.io', other, true],
        ['create', 'events', other, false],
        ['get', 'configmaps', namespace, true],
        ['create', 'configmaps', namespace, true],
        ['patch', 'configmaps', namespace, true],
        ['delete', 'configmaps', namespace, false],
        ['get', 'configmaps', other, false],
        ['create', 'configmaps', other, false],
        ['get', 'leases.coordination.k8s.io', namespace, true],
        ['create', 'leases.coordination.k8s.io', namespace, true],
        ['update', 'leases.coordination.k8s.io', namespace, true],
        ['delete', 'leases.coordination.k8s.io', namespace, false],
        ['update', 'leases.coordination.k8s.io', other, false],
        ['get', 'secrets', namespace, false],
        ['list', 'secrets', '', false],
        ['list', 'pods', '', false],
        ['list', 'nodes', '', false],
        ['create', 'serviceaccounts/token', namespace, false],
        ['create', 'customresourcedefinitions.apiextensions.k8s.io', '', false],
        ['create', 'clusterrolebindings.rbac.authorization.k8s.io', '', false],
        ['bind', 'clusterroles.rbac.authorization.k8s.io', '', false],
        ['escalate', 'roles.rbac.authorization.k8s.io', namespace, false],
        ['impersonate', 'users', '', false],
      ]);
      // What the API server itself lists for this identity (SelfSubjectRulesReview via impersonation).
      const list = await kubectlOk(['auth', 'can-i', '--list', `--as=${user}`, '-n', namespace]);
      const resources = list
        .split('\n')
        .slice(1)
        .filter((l) => l.trim() && !l.trim().startsWith('['));
      expect(resources.some((r) => r.trimStart().startsWith('networkpolicies.networking.k8s.io '))).toBe(true);
      expect(resources.join('\n')).not.toMatch(/secrets|\*\.\*|^\s*\*\s/m);
      for (const row of resources) expect(row, row).not.toMatch(/\[\*\]/);
    } finally {
      await kubectl([
        'delete',
        'clusterrole,clusterrolebinding',
        `${release}-acr-access-operator`,
        '--ignore-not-found',
      ]);
      await kubectl(['delete', 'namespace', other, '--wait=false']);
    }
  });

  test('namespaced: writes only in the watched namespaces', { timeout: 120_000 }, async ({ namespace, admin }) => {
    const release = uniqueRelease();
    const watched = await createNamespace(admin, 'watched');
    const other = await createNamespace(admin, 'other');
    try {
      const { docs, user } = await installRbac(
        { rbac: { namespaced: true }, operator: { watchNamespaces: [watched] } },
        release,
        namespace,
      );
      expectLeastPrivilege(docs);
      await expectMatrix(admin, user, namespace, [
        ['list', 'acraccesses.acraccess.io', watched, true],
        ['patch', 'acraccesses.acraccess.io/status', watched, true],
        ['create', 'networkpolicies.networking.k8s.io', watched, true],
        ['delete', 'networkpolicies.networking.k8s.io', watched, true],
        ['create', 'ciliumnetworkpolicies.cilium.io', watched, true],
        ['create', 'networkpolicies.projectcalico.org', watched, true],
        ['create', 'events.events.k8s.io', watched, true],
        ['create', 'events.events.k8s.io', 'default', true],
        ['list', 'acraccesses.acraccess.io', '', false],
        ['list', 'acraccesses.acraccess.io', other, false],
        ['create', 'networkpolicies.networking.k8s.io', other, false],
        ['create', 'ciliumnetworkpolicies.cilium.io', other, false],
        ['create', 'events.events.k8s.io', other, false],
        // Cluster-scoped kinds have no namespace to confine them to.
        ['list', 'clusteracraccesses.acraccess.io', '', true],
        ['list', 'namespaces', '', true],
        ['create', 'ciliumclusterwidenetworkpolicies.cilium.io', '', true],
        ['create', 'configmaps', namespace, true],
        ['update', 'leases.coordination.k8s.io', namespace, true],
      ]);
    } finally {
      const name = `${release}-acr-access-operator`;
      await kubectl(['delete', 'clusterrole,clusterrolebinding', name, '--ignore-not-found']);
      await kubectl(['delete', 'role,rolebinding', `${name}-events`, '-n', 'default', '--ignore-not-found']);
      await kubectl(['delete', 'namespace', watched, other, '--wait=false']);
    }
  });
});
