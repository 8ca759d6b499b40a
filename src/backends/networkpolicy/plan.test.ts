import { describe, expect, it } from 'vitest';
import type { EgressIntent } from '../../intent/intent.js';
import { podIntent } from '../../../test/fixtures/intents.js';
import type { KubeObject } from '../../kube/types.js';
import { LABELS } from '../ownership.js';
import { planNetworkPolicies } from './plan.js';

const intent = (over: Partial<EgressIntent> = {}): EgressIntent => podIntent(over);

type Egress = { to: { ipBlock?: { cidr: string } }[]; ports: { protocol: string; port: number }[] }[];
const egress = (o: KubeObject) => (o.spec as { egress: Egress }).egress;

describe('planNetworkPolicies', () => {
  it('allows the prefixes on TCP 443 and DNS to kube-dns, for the selected pods only', () => {
    const [np, ...rest] = planNetworkPolicies(intent());
    expect(rest).toEqual([]);
    expect(np!.metadata.name).toBe('acr-access-contoso');
    expect(np!.spec).toMatchObject({ podSelector: { matchLabels: { app: 'x' } }, policyTypes: ['Egress'] });
    const [ips, dns] = egress(np!);
    expect(ips!.to.map((t) => t.ipBlock?.cidr)).toEqual(['10.0.0.0/24', '20.0.0.0/16', '2603:1030::/48']);
    expect(ips!.ports).toEqual([{ protocol: 'TCP', port: 443 }]);
    expect(dns!.ports).toEqual([
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ]);
    expect(np!.metadata.labels).toMatchObject({
      [LABELS.managedBy]: 'acr-access-operator',
      [LABELS.ownerName]: 'contoso',
    });
  });

  it('is deterministic to the byte', () => {
    expect(JSON.stringify(planNetworkPolicies(intent()))).toBe(JSON.stringify(planNetworkPolicies(intent())));
  });

  it('splits a large set under the byte budget, keeps every prefix once, and puts DNS in the first object only', () => {
    const ipv4 = Array.from({ length: 300 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const objects = planNetworkPolicies(intent({ prefixes: { ipv4, ipv6: [] } }), { maxBytesPerObject: 2048 });
    expect(objects.length).toBeGreaterThan(3);
    expect(objects.map((o) => o.metadata.name).slice(0, 3)).toEqual([
      'acr-access-contoso',
      'acr-access-contoso-2',
      'acr-access-contoso-3',
    ]);
    const all = objects.flatMap((o) => egress(o)[0]!.to.map((t) => t.ipBlock!.cidr));
    expect(all).toEqual(ipv4);
    for (const o of objects) expect(JSON.stringify(egress(o)[0]!.to).length).toBeLessThanOrEqual(2048);
    expect(objects.filter((o) => egress(o).length === 2)).toHaveLength(1);
    expect(objects.map((o) => o.metadata.annotations?.['acraccess.io/shard'])[1]).toBe(`2/${objects.length}`);
  });

  it('leaves DNS out when disabled', () => {
    const { dns: _dns, ...noDns } = intent();
    expect(egress(planNetworkPolicies(noDns)[0]!)).toHaveLength(1);
  });

  it('sets the controller reference for a same-namespace or cluster-scoped owner with a uid', () => {
    const withUid = intent({
      owner: {
        apiVersion: 'acraccess.io/v1alpha1',
        kind: 'AcrAccess',
        name: 'contoso',
        namespace: 'flux-system',
        uid: 'u-1',
      },
    });
    expect(planNetworkPolicies(withUid)[0]!.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'acraccess.io/v1alpha1',
        kind: 'AcrAccess',
        name: 'contoso',
        uid: 'u-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    const cluster = intent({
      owner: { apiVersion: 'acraccess.io/v1alpha1', kind: 'ClusterAcrAccess', name: 'contoso', uid: 'u-2' },
      workloads: { podSelector: {}, namespaces: ['a', 'b'] },
    });
    const objects = planNetworkPolicies(cluster);
    expect(objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'a/cluster-acr-access-contoso',
      'b/cluster-acr-access-contoso',
    ]);
    expect(objects.every((o) => o.metadata.ownerReferences?.[0]?.uid === 'u-2')).toBe(true);
    const foreign = intent({ workloads: { podSelector: {}, namespaces: ['elsewhere'] }, owner: { ...withUid.owner } });
    expect(planNetworkPolicies(foreign)[0]!.metadata.ownerReferences).toBeUndefined();
  });

  it('keeps names and label values within Kubernetes limits', () => {
    const long = 'a'.repeat(250);
    const [np] = planNetworkPolicies(
      intent({ owner: { apiVersion: 'acraccess.io/v1alpha1', kind: 'AcrAccess', name: long, namespace: 'n' } }),
    );
    expect(np!.metadata.name.length).toBeLessThanOrEqual(253);
    expect(np!.metadata.labels![LABELS.ownerName]!.length).toBeLessThanOrEqual(63);
  });

  it('refuses to write a policy with nothing to allow', () => {
    expect(() => planNetworkPolicies(intent({ prefixes: { ipv4: [], ipv6: [] } }))).toThrow('no addresses to allow');
  });
});
