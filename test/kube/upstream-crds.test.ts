import path from 'node:path';
import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect } from 'vitest';
import { KubeApiError } from '../../src/kube/errors.js';
import { clientFor, controlPlane, installCrds, test } from '../support/cluster.js';

const upstream = controlPlane().upstreamDir;
// Without shared/upstream beside the repository (never in CI, where global setup fails instead) there is nothing to
// install; say so rather than pretend.
if (!upstream) console.warn('upstream CRD tests skipped: shared/upstream not found beside the repository');

const yamlIn = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => path.join(dir, f));

describe.skipIf(!upstream)('upstream Cilium CRDs in the real API server', () => {
  beforeAll(async () => {
    const names = await installCrds(clientFor('admin'), yamlIn(path.join(upstream, 'crds/cilium/v1.19.0-pre.4')));
    expect(names.sort()).toEqual([
      'ciliumcidrgroups.cilium.io',
      'ciliumclusterwidenetworkpolicies.cilium.io',
      'ciliumnetworkpolicies.cilium.io',
    ]);
  });

  const cnp = (namespace: string, spec: Record<string, unknown>) => ({
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name: 'acr-egress', namespace },
    spec,
  });

  test('accepts a valid CiliumNetworkPolicy', async ({ namespace, admin }) => {
    const created = await admin.apply(
      cnp(namespace, {
        endpointSelector: { matchLabels: { app: 'puller' } },
        egress: [
          {
            toCIDRSet: [{ cidr: '20.38.150.0/23' }],
            toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }],
          },
        ],
      }),
    );
    expect(created.metadata.uid).toBeTruthy();
  });

  test('rejects an invalid CiliumNetworkPolicy with the schema message', async ({ namespace, admin }) => {
    const err = await admin
      .apply(
        cnp(namespace, {
          endpointSelector: {},
          egress: [{ toPorts: [{ ports: [{ port: '443', protocol: 'BOGUS' }] }] }],
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(422);
    expect((err as Error).message).toMatch(/protocol.*Unsupported value: "BOGUS"/);
  });

  test('rejects a policy that sets both endpointSelector and nodeSelector', async ({ namespace, admin }) => {
    const err = await admin
      .apply(cnp(namespace, { endpointSelector: {}, nodeSelector: {}, egress: [{ toEntities: ['world'] }] }))
      .catch((e: unknown) => e);
    expect((err as KubeApiError).code).toBe(422);
  });
});

describe.skipIf(!upstream)('upstream Calico v3 CRDs in the real API server', () => {
  test('install and accept a GlobalNetworkSet', async ({ admin }) => {
    await installCrds(admin, yamlIn(path.join(upstream, 'crds/calico/projectcalico.org_v3')));
    const set = await admin.apply({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkSet',
      metadata: { name: 'acr-test', labels: { 'acraccess.io/test': 'true' } },
      spec: { nets: ['20.38.150.0/23', '2603:1030:403::/48'] },
    });
    expect(set.metadata.uid).toBeTruthy();
    await admin.delete({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', name: 'acr-test' });
  });
});
