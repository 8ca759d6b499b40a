import { describe, expect, it } from 'vitest';
import type { EgressIntent, IntentOwner } from '../../intent/intent.js';
import { podIntent } from '../../../test/fixtures/intents.js';
import type { KubeObject } from '../../kube/types.js';
import { LABELS } from '../ownership.js';
import { SET_LABEL, TIER_NAME, calicoTier, dnsLabel, planCalico } from './plan.js';

const ACR: IntentOwner = {
  apiVersion: 'acraccess.io/v1alpha1',
  kind: 'AcrAccess',
  name: 'contoso',
  namespace: 'flux-system',
  uid: 'u-1',
};
const CLUSTER: IntentOwner = {
  apiVersion: 'acraccess.io/v1alpha1',
  kind: 'ClusterAcrAccess',
  name: 'contoso',
  uid: 'c-1',
};

const intent = (over: Partial<EgressIntent> = {}): EgressIntent =>
  podIntent({ owner: ACR, hosts: ['contoso.azurecr.io', 'contoso.eastus.data.azurecr.io'], ...over });

const nodeIntent = (over: Partial<EgressIntent> = {}): EgressIntent => {
  const { dns: _dns, ...rest } = intent({
    owner: CLUSTER,
    plane: 'node',
    workloads: { podSelector: {}, namespaces: [], nodeSelector: { matchLabels: { agentpool: 'nodepool1' } } },
    ...over,
  });
  return rest;
};

type Rule = { action: string; protocol: string; destination: Record<string, unknown> };
const spec = (o: KubeObject) => o.spec as { nets?: string[]; selector?: string; egress?: Rule[]; tier?: string };
const byKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);
const REF = (owner: IntentOwner) => [
  {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  },
];
/** Calico 3.32's name rules (libcalico-go/lib/validator/v3/validator.go), to check our names against. */
const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const NP_NAME = new RegExp(`^(${LABEL})(\\.${LABEL})?$`);
const GNP_NAME = new RegExp(`^(${LABEL}\\.)?${LABEL}$`);

describe('planCalico, pod plane', () => {
  it('writes a NetworkSet and a tiered NetworkPolicy allowing TCP 443 to it and DNS to kube-dns', () => {
    const objects = planCalico(intent());
    expect(objects.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'projectcalico.org/v3 NetworkSet flux-system/acr-access-contoso-1',
      'projectcalico.org/v3 NetworkPolicy flux-system/acr-access.acr-access-contoso',
    ]);
    const [set, policy] = objects as [KubeObject, KubeObject];
    expect(set.spec).toEqual({ nets: ['10.0.0.0/24', '20.0.0.0/16', '2603:1030::/48'] });
    expect(set.metadata.labels).toEqual({
      [LABELS.managedBy]: 'acr-access-operator',
      [LABELS.ownerKind]: 'AcrAccess',
      [LABELS.ownerName]: 'contoso',
      [LABELS.ownerNamespace]: 'flux-system',
      [SET_LABEL]: 'acr-access-contoso',
    });
    expect(set.metadata.annotations).toEqual({
      'acraccess.io/owner': 'AcrAccess/flux-system/contoso',
      'acraccess.io/service-tags-change-number': '376',
      'acraccess.io/hosts': 'contoso.azurecr.io,contoso.eastus.data.azurecr.io',
      'acraccess.io/shard': '1/1',
    });
    expect(policy.spec).toEqual({
      tier: 'acr-access',
      selector: "app == 'x'",
      types: ['Egress'],
      egress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          destination: { selector: "acraccess.io/set == 'acr-access-contoso'", ports: [443] },
        },
        {
          action: 'Allow',
          protocol: 'UDP',
          destination: {
            namespaceSelector: "kubernetes.io/metadata.name == 'kube-system'",
            selector: "k8s-app == 'kube-dns'",
            ports: [53],
          },
        },
        {
          action: 'Allow',
          protocol: 'TCP',
          destination: {
            namespaceSelector: "kubernetes.io/metadata.name == 'kube-system'",
            selector: "k8s-app == 'kube-dns'",
            ports: [53],
          },
        },
      ],
    });
    // The policy is the owner's too, but is not an address set.
    expect(policy.metadata.labels?.[SET_LABEL]).toBeUndefined();
    expect(policy.metadata.annotations?.['acraccess.io/shard']).toBeUndefined();
    for (const o of objects) expect(o.metadata.ownerReferences).toEqual(REF(ACR));
  });

  it('selects every pod of the namespace for an empty podSelector', () => {
    const [, policy] = planCalico(intent({ workloads: { podSelector: {}, namespaces: ['flux-system'] } }));
    expect(spec(policy!).selector).toBe('all()');
  });

  it('leaves the DNS rule out when DNS is disabled', () => {
    const { dns: _dns, ...noDns } = intent();
    const egress = spec(byKind(planCalico(noDns), 'NetworkPolicy')[0]!).egress!;
    expect(egress).toHaveLength(1);
    expect(egress[0]!.destination.ports).toEqual([443]);
  });

  it('writes the same sets and policy in every namespace a ClusterAcrAccess selects, all owned by it', () => {
    const objects = planCalico(intent({ owner: CLUSTER, workloads: { podSelector: {}, namespaces: ['a', 'b'] } }));
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'NetworkSet a/cluster-acr-access-contoso-1',
      'NetworkPolicy a/acr-access.cluster-acr-access-contoso',
      'NetworkSet b/cluster-acr-access-contoso-1',
      'NetworkPolicy b/acr-access.cluster-acr-access-contoso',
    ]);
    for (const o of objects) expect(o.metadata.ownerReferences).toEqual(REF(CLUSTER));
    expect(objects[0]!.metadata.labels).not.toHaveProperty(LABELS.ownerNamespace);
    expect(objects[0]!.metadata.labels?.[SET_LABEL]).toBe('cluster-acr-access-contoso');
    expect(spec(objects[1]!).egress![0]!.destination.selector).toBe("acraccess.io/set == 'cluster-acr-access-contoso'");
  });

  it('never gives a namespaced owner a reference from another namespace, and none without a uid', () => {
    const foreign = planCalico(intent({ workloads: { podSelector: {}, namespaces: ['elsewhere'] } }));
    for (const o of foreign) expect(o.metadata.ownerReferences).toBeUndefined();
    const noUid = planCalico(intent({ owner: { ...ACR, uid: undefined } }));
    for (const o of noUid) expect(o.metadata.ownerReferences).toBeUndefined();
  });

  it('splits a large set under the byte budget; one policy selects every shard by one label', () => {
    const ipv4 = Array.from({ length: 300 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const ipv6 = ['2603:1030::/48', '2603:1040::/48'];
    const objects = planCalico(intent({ prefixes: { ipv4, ipv6 } }), { maxBytesPerObject: 1024 });
    const sets = byKind(objects, 'NetworkSet');
    expect(sets.length).toBeGreaterThan(3);
    expect(sets.map((s) => s.metadata.name)).toEqual(sets.map((_, i) => `acr-access-contoso-${i + 1}`));
    expect(sets.flatMap((s) => spec(s).nets)).toEqual([...ipv4, ...ipv6]);
    for (const s of sets) {
      expect(Buffer.byteLength(JSON.stringify(spec(s).nets))).toBeLessThanOrEqual(1024);
      expect(s.metadata.labels?.[SET_LABEL]).toBe('acr-access-contoso');
    }
    expect(sets.map((s) => s.metadata.annotations?.['acraccess.io/shard'])).toEqual(
      sets.map((_, i) => `${i + 1}/${sets.length}`),
    );
    const policies = byKind(objects, 'NetworkPolicy');
    expect(policies).toHaveLength(1);
    expect(spec(policies[0]!).egress![0]!.destination.selector).toBe("acraccess.io/set == 'acr-access-contoso'");
  });

  it('refuses to plan with nothing to allow rather than plan nothing (which would prune live allows)', () => {
    expect(() => planCalico(intent({ prefixes: { ipv4: [], ipv6: [] } }))).toThrow('no addresses to allow');
  });
});

describe('planCalico, node plane', () => {
  it('writes GlobalNetworkSets and a GlobalNetworkPolicy on host endpoints of the selected nodes', () => {
    const objects = planCalico(nodeIntent());
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`)).toEqual([
      'GlobalNetworkSet -/cluster-acr-access-contoso-1',
      'GlobalNetworkPolicy -/acr-access.cluster-acr-access-contoso',
    ]);
    const [set, policy] = objects as [KubeObject, KubeObject];
    expect(set.spec).toEqual({ nets: ['10.0.0.0/24', '20.0.0.0/16', '2603:1030::/48'] });
    expect(set.metadata.labels?.[SET_LABEL]).toBe('cluster-acr-access-contoso');
    expect(policy.spec).toEqual({
      tier: 'acr-access',
      selector: "agentpool == 'nodepool1' && !has(projectcalico.org/namespace)",
      types: ['Egress'],
      egress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          destination: {
            namespaceSelector: 'global()',
            selector: "acraccess.io/set == 'cluster-acr-access-contoso'",
            ports: [443],
          },
        },
      ],
    });
    for (const o of objects) expect(o.metadata.ownerReferences).toEqual(REF(CLUSTER));
  });

  it('selects every host endpoint (and no pod) for an empty nodeSelector', () => {
    const objects = planCalico(nodeIntent({ workloads: { podSelector: {}, namespaces: [], nodeSelector: {} } }));
    expect(spec(byKind(objects, 'GlobalNetworkPolicy')[0]!).selector).toBe('!has(projectcalico.org/namespace)');
  });

  it('shards GlobalNetworkSets the same way, all under one label', () => {
    const ipv4 = Array.from({ length: 200 }, (_, i) => `20.${i}.0.0/16`);
    const objects = planCalico(nodeIntent({ prefixes: { ipv4, ipv6: [] } }), { maxBytesPerObject: 512 });
    const sets = byKind(objects, 'GlobalNetworkSet');
    expect(sets.length).toBeGreaterThan(3);
    expect(sets.flatMap((s) => spec(s).nets)).toEqual(ipv4);
    expect(new Set(sets.map((s) => s.metadata.labels?.[SET_LABEL]))).toEqual(new Set(['cluster-acr-access-contoso']));
    expect(byKind(objects, 'GlobalNetworkPolicy')).toHaveLength(1);
  });

  it('refuses a namespaced owner, which must never reach cluster-scoped policy', () => {
    expect(() => planCalico(nodeIntent({ owner: ACR }))).toThrow('namespaced owner cannot govern the node plane');
  });

  it('refuses a node intent without a nodeSelector', () => {
    expect(() => planCalico(nodeIntent({ workloads: { podSelector: {}, namespaces: [] } }))).toThrow('nodeSelector');
  });
});

describe('planCalico, every plan', () => {
  const plans = () => [
    planCalico(intent()),
    planCalico(intent({ owner: CLUSTER, workloads: { podSelector: {}, namespaces: ['a', 'b'] } })),
    planCalico(nodeIntent()),
    [calicoTier()],
  ];

  it('has no Deny rule anywhere: the tier passes what we do not allow', () => {
    const json = JSON.stringify(plans());
    expect(json).not.toMatch(/Deny/);
    for (const o of plans().flat()) for (const rule of spec(o).egress ?? []) expect(rule.action).toBe('Allow');
    for (const o of plans().flat()) expect(o.spec).not.toHaveProperty('ingress');
    expect(calicoTier().spec).toEqual({ order: 999_000, defaultAction: 'Pass' });
  });

  it('puts every policy in the acr-access tier', () => {
    const policies = plans()
      .flat()
      .filter((o) => o.kind.endsWith('NetworkPolicy'));
    expect(policies).toHaveLength(4);
    for (const p of policies) {
      expect(spec(p).tier).toBe(TIER_NAME);
      expect(p.metadata.name.startsWith(`${TIER_NAME}.`)).toBe(true);
    }
  });

  it('is deterministic to the byte, whatever order the selector maps come in', () => {
    const reordered = intent({
      workloads: { podSelector: { matchLabels: { b: '2', a: '1' } }, namespaces: ['flux-system'] },
    });
    const sorted = intent({
      workloads: { podSelector: { matchLabels: { a: '1', b: '2' } }, namespaces: ['flux-system'] },
    });
    expect(JSON.stringify(planCalico(reordered))).toBe(JSON.stringify(planCalico(sorted)));
    expect(JSON.stringify(plans())).toBe(JSON.stringify(plans()));
  });

  it('keeps names and label values within what Kubernetes and Calico accept, for long and dotted owner names', () => {
    for (const name of ['a'.repeat(250), 'team.registry.prod', `x.${'y'.repeat(100)}`]) {
      const pod = planCalico(intent({ owner: { ...ACR, name } }));
      const node = planCalico(nodeIntent({ owner: { ...CLUSTER, name } }));
      for (const o of [...pod, ...node]) {
        expect(o.metadata.name.length, o.metadata.name).toBeLessThanOrEqual(253);
        for (const v of Object.values(o.metadata.labels ?? {})) expect(v.length).toBeLessThanOrEqual(63);
      }
      expect(byKind(pod, 'NetworkPolicy')[0]!.metadata.name).toMatch(NP_NAME);
      expect(byKind(node, 'GlobalNetworkPolicy')[0]!.metadata.name).toMatch(GNP_NAME);
    }
  });

  it('gives distinct owners distinct names even where shortening and dots could merge them', () => {
    expect(dnsLabel('acr-access-a.b')).not.toBe(dnsLabel('acr-access-a-b'));
    expect(dnsLabel('acr-access-a-b')).toBe('acr-access-a-b');
    expect(dnsLabel('p'.repeat(70))).not.toBe(dnsLabel(`${'p'.repeat(70)}q`));
    // Shard 2 of `x` and shard 1 of `x-2` would clash if the first shard went unnumbered.
    const two = planCalico(intent({ owner: { ...ACR, name: 'x' } }), { maxBytesPerObject: 40 });
    const other = planCalico(intent({ owner: { ...ACR, name: 'x-2' } }));
    const names = (os: KubeObject[]) => byKind(os, 'NetworkSet').map((o) => o.metadata.name);
    expect(names(two)).toContain('acr-access-x-2');
    expect(names(other)).not.toContain('acr-access-x-2');
  });

  it('labels the tier as ours but gives it no owner', () => {
    const tier = calicoTier();
    expect(tier).toMatchObject({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'acr-access' } });
    expect(tier.metadata.labels).toEqual({ [LABELS.managedBy]: 'acr-access-operator' });
    expect(tier.metadata.ownerReferences).toBeUndefined();
  });
});
