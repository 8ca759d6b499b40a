import { describe, expect, it } from 'vitest';
import type { EgressIntent, IntentOwner } from '../../intent/intent.js';
import { podIntent } from '../../../test/fixtures/intents.js';
import type { KubeObject } from '../../kube/types.js';
import { ANNOTATIONS, LABELS } from '../ownership.js';
import { planCilium } from './plan.js';

const ACR: IntentOwner = {
  apiVersion: 'acraccess.io/v1alpha1',
  kind: 'AcrAccess',
  name: 'contoso',
  namespace: 'flux-system',
  uid: 'u-ns',
};
const CLUSTER: IntentOwner = {
  apiVersion: 'acraccess.io/v1alpha1',
  kind: 'ClusterAcrAccess',
  name: 'contoso',
  uid: 'u-c',
};
const HOSTS = ['contoso.azurecr.io', '*.blob.core.windows.net', 'contoso.westeurope.data.azurecr.io'];

const intent = (over: Partial<EgressIntent> = {}): EgressIntent => podIntent({ owner: ACR, hosts: HOSTS, ...over });
const clusterPods = (over: Partial<EgressIntent> = {}) =>
  intent({ owner: CLUSTER, workloads: { podSelector: {}, namespaces: ['team-a', 'team-b'] }, ...over });
const nodes = (over: Partial<EgressIntent> = {}) => {
  const { dns: _dns, ...rest } = intent({
    owner: CLUSTER,
    plane: 'node',
    workloads: { podSelector: {}, namespaces: [], nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } } },
    ...over,
  });
  return rest;
};
const V2 = { cidrGroupVersion: 'cilium.io/v2' };

type Rule = Record<string, unknown> & { toPorts?: { ports: unknown[]; rules?: unknown }[] };
const spec = (o: KubeObject) => o.spec as { egress: Rule[]; enableDefaultDeny: unknown } & Record<string, unknown>;
const named = (objects: KubeObject[], name: string) => objects.find((o) => o.metadata.name === name)!;
const ids = (objects: KubeObject[]) =>
  objects.map((o) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`);

describe('planCilium, pod plane of an AcrAccess (addresses inline)', () => {
  const objects = planCilium(intent(), V2);

  it('writes an address policy and a name policy, no CIDR group', () => {
    expect(ids(objects)).toEqual([
      'CiliumNetworkPolicy flux-system/acr-access-contoso',
      'CiliumNetworkPolicy flux-system/acr-access-contoso-fqdn',
    ]);
  });

  it('allows the prefixes inline on TCP 443 for the selected pods, without isolating them', () => {
    const cnp = named(objects, 'acr-access-contoso');
    expect(cnp.apiVersion).toBe('cilium.io/v2');
    expect(spec(cnp)).toEqual({
      endpointSelector: { matchLabels: { app: 'x' } },
      enableDefaultDeny: { egress: false, ingress: false },
      egress: [
        {
          toCIDRSet: [{ cidr: '10.0.0.0/24' }, { cidr: '20.0.0.0/16' }, { cidr: '2603:1030::/48' }],
          toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }],
        },
      ],
    });
  });

  it('allows the hosts by name (exact and wildcard) and sends DNS to kube-dns through the proxy', () => {
    const [fqdn, dns, ...rest] = spec(named(objects, 'acr-access-contoso-fqdn')).egress;
    expect(rest).toEqual([]);
    expect(fqdn).toEqual({
      toFQDNs: [
        { matchPattern: '*.blob.core.windows.net' },
        { matchName: 'contoso.azurecr.io' },
        { matchName: 'contoso.westeurope.data.azurecr.io' },
      ],
      toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }],
    });
    expect(dns).toEqual({
      toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } }],
      toPorts: [
        {
          ports: [
            { port: '53', protocol: 'UDP' },
            { port: '53', protocol: 'TCP' },
          ],
          // Every query, not only the registry's: an L7 DNS rule refuses what it does not list (cilium#38676).
          rules: { dns: [{ matchPattern: '*' }] },
        },
      ],
    });
  });

  it('marks both as the owner’s, with the controller reference', () => {
    for (const o of objects) {
      expect(o.metadata.labels).toMatchObject({ [LABELS.ownerKind]: 'AcrAccess', [LABELS.ownerName]: 'contoso' });
      expect(o.metadata.annotations).toMatchObject({
        [ANNOTATIONS.owner]: 'AcrAccess/flux-system/contoso',
        [ANNOTATIONS.hosts]: [...HOSTS].sort().join(','),
      });
      // The feed's change number only where prefixes are: the name policy is untouched by a feed change.
      expect(o.metadata.annotations?.[ANNOTATIONS.changeNumber]).toBe(
        o.metadata.name.endsWith('-fqdn') ? undefined : '376',
      );
      const { namespace: _namespace, ...ref } = ACR;
      expect(o.metadata.ownerReferences).toEqual([{ ...ref, controller: true, blockOwnerDeletion: true }]);
    }
    expect(named(objects, 'acr-access-contoso').metadata.annotations?.[ANNOTATIONS.shard]).toBe('1/1');
  });

  it('podMatch CIDR writes the address policy only; FQDN the name policy only', () => {
    const cidr = planCilium(intent({ options: { cilium: { podMatch: 'CIDR', nodeMatch: 'CIDR' } } }), V2);
    expect(ids(cidr)).toEqual(['CiliumNetworkPolicy flux-system/acr-access-contoso']);
    const fqdn = planCilium(intent({ options: { cilium: { podMatch: 'FQDN', nodeMatch: 'CIDR' } } }), V2);
    expect(ids(fqdn)).toEqual(['CiliumNetworkPolicy flux-system/acr-access-contoso-fqdn']);
    expect(JSON.stringify(fqdn)).not.toContain('toCIDRSet');
  });

  it('with the DNS rule disabled keeps matching by name, without a DNS rule and without widening to addresses', () => {
    const { dns: _dns, ...noDns } = intent({ options: { cilium: { podMatch: 'FQDN', nodeMatch: 'CIDR' } } });
    const objects = planCilium(noDns, V2);
    expect(ids(objects)).toEqual(['CiliumNetworkPolicy flux-system/acr-access-contoso-fqdn']);
    expect(spec(objects[0]!).egress).toHaveLength(1);
    expect(spec(objects[0]!).egress[0]).toHaveProperty('toFQDNs');
    expect(JSON.stringify(objects)).not.toMatch(/toCIDRSet|"53"/);
  });

  it('refuses rules whose empty peer list would allow every destination', () => {
    expect(() => planCilium(intent({ prefixes: { ipv4: [], ipv6: [] } }), V2)).toThrow(/no addresses to allow/);
    expect(() => planCilium(intent({ hosts: [] }), V2)).toThrow(/no host names/);
    // Matching by name only needs no addresses.
    const fqdnOnly = intent({
      prefixes: { ipv4: [], ipv6: [] },
      options: { cilium: { podMatch: 'FQDN', nodeMatch: 'CIDR' } },
    });
    expect(planCilium(fqdnOnly, V2)).toHaveLength(1);
  });

  it('splits a large set over several policies under the byte budget, every prefix once, in order', () => {
    const ipv4 = Array.from({ length: 300 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const objects = planCilium(intent({ prefixes: { ipv4, ipv6: [] } }), { ...V2, maxBytesPerObject: 2048 });
    const address = objects.filter((o) => !o.metadata.name.endsWith('-fqdn'));
    expect(address.length).toBeGreaterThan(3);
    expect(address.map((o) => o.metadata.name).slice(0, 3)).toEqual([
      'acr-access-contoso',
      'acr-access-contoso-2',
      'acr-access-contoso-3',
    ]);
    const sets = address.map((o) => spec(o).egress[0]!.toCIDRSet as { cidr: string }[]);
    expect(sets.flat().map((c) => c.cidr)).toEqual(ipv4);
    for (const set of sets) expect(JSON.stringify(set).length).toBeLessThanOrEqual(2048);
    expect(address[1]!.metadata.annotations?.[ANNOTATIONS.shard]).toBe(`2/${address.length}`);
    expect(objects.filter((o) => o.metadata.name.endsWith('-fqdn'))).toHaveLength(1);
  });
});

describe('planCilium, ClusterAcrAccess (addresses in CiliumCIDRGroups)', () => {
  it('writes the groups it owns and one policy per selected namespace referencing them', () => {
    const objects = planCilium(clusterPods(), { cidrGroupVersion: 'cilium.io/v2alpha1' });
    expect(ids(objects)).toEqual([
      'CiliumCIDRGroup cluster-acr-access-contoso',
      'CiliumNetworkPolicy team-a/cluster-acr-access-contoso',
      'CiliumNetworkPolicy team-a/cluster-acr-access-contoso-fqdn',
      'CiliumNetworkPolicy team-b/cluster-acr-access-contoso',
      'CiliumNetworkPolicy team-b/cluster-acr-access-contoso-fqdn',
    ]);
    const [group] = objects;
    expect(group!.apiVersion).toBe('cilium.io/v2alpha1');
    expect(group!.spec).toEqual({ externalCIDRs: ['10.0.0.0/24', '20.0.0.0/16', '2603:1030::/48'] });
    const cnp = objects[1]!;
    expect(spec(cnp).endpointSelector).toEqual({});
    expect(spec(cnp).egress[0]!.toCIDRSet).toEqual([{ cidrGroupRef: 'cluster-acr-access-contoso' }]);
    expect(JSON.stringify(objects.slice(1))).not.toContain('"cidr"');
    for (const o of objects)
      expect(o.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ClusterAcrAccess', uid: 'u-c' });
  });

  it('plans nothing for a pod plane that selects no namespace', () => {
    expect(planCilium(clusterPods({ workloads: { podSelector: {}, namespaces: [] } }), V2)).toEqual([]);
  });

  it('shards the groups by byte budget; the policy references them all, in order', () => {
    const ipv4 = Array.from({ length: 400 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const objects = planCilium(clusterPods({ prefixes: { ipv4, ipv6: ['2603:1030::/48'] } }), {
      ...V2,
      maxBytesPerObject: 1024,
    });
    const groups = objects.filter((o) => o.kind === 'CiliumCIDRGroup');
    expect(groups.length).toBeGreaterThan(4);
    expect(groups.map((g) => g.metadata.name).slice(0, 2)).toEqual([
      'cluster-acr-access-contoso',
      'cluster-acr-access-contoso-2',
    ]);
    const cidrs = groups.map((g) => (g.spec as { externalCIDRs: string[] }).externalCIDRs);
    expect(cidrs.flat()).toEqual([...ipv4, '2603:1030::/48']);
    for (const c of cidrs) expect(JSON.stringify(c).length).toBeLessThanOrEqual(1024);
    const cnp = objects.find((o) => o.kind === 'CiliumNetworkPolicy' && o.metadata.namespace === 'team-a')!;
    expect(cnp.metadata.name).toBe('cluster-acr-access-contoso');
    const refs = spec(cnp).egress[0]!.toCIDRSet;
    expect(refs).toEqual(groups.map((g) => ({ cidrGroupRef: g.metadata.name })));
  });

  it('node plane: a clusterwide host policy with the nodeSelector, addresses by group reference', () => {
    const objects = planCilium(nodes(), V2);
    expect(ids(objects)).toEqual([
      'CiliumCIDRGroup cluster-acr-access-contoso',
      'CiliumClusterwideNetworkPolicy cluster-acr-access-contoso',
    ]);
    expect(spec(objects[1]!)).toEqual({
      nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } },
      enableDefaultDeny: { egress: false, ingress: false },
      egress: [
        {
          toCIDRSet: [{ cidrGroupRef: 'cluster-acr-access-contoso' }],
          toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }],
        },
      ],
    });
  });

  it('node plane with nodeMatch FQDNAndCIDR adds a name policy whose DNS rule reaches any resolver', () => {
    const objects = planCilium(nodes({ options: { cilium: { podMatch: 'CIDR', nodeMatch: 'FQDNAndCIDR' } } }), V2);
    const fqdn = named(objects, 'cluster-acr-access-contoso-fqdn');
    expect(fqdn.kind).toBe('CiliumClusterwideNetworkPolicy');
    const [names, dns] = spec(fqdn).egress;
    expect(names!.toFQDNs).toHaveLength(3);
    // The host resolves through /etc/resolv.conf (Azure DNS, VNet DNS), not kube-dns: no peer, port 53 anywhere.
    expect(Object.keys(dns!)).toEqual(['toPorts']);
    expect(dns!.toPorts![0]!.rules).toEqual({ dns: [{ matchPattern: '*' }] });
  });

  it('pod and node intents plan byte-identical CIDR groups', () => {
    for (const version of ['cilium.io/v2', 'cilium.io/v2alpha1']) {
      const opts = { cidrGroupVersion: version, maxBytesPerObject: 64 };
      const groupsOf = (objects: KubeObject[]) => JSON.stringify(objects.filter((o) => o.kind === 'CiliumCIDRGroup'));
      const fromPods = groupsOf(
        planCilium(clusterPods({ options: { cilium: { podMatch: 'FQDNAndCIDR', nodeMatch: 'FQDNAndCIDR' } } }), opts),
      );
      expect(fromPods).toContain('"externalCIDRs"');
      expect(
        groupsOf(
          planCilium(nodes({ options: { cilium: { podMatch: 'FQDNAndCIDR', nodeMatch: 'FQDNAndCIDR' } } }), opts),
        ),
      ).toBe(fromPods);
    }
  });

  it('refuses a node plane for an AcrAccess or without a nodeSelector', () => {
    expect(() => planCilium(nodes({ owner: ACR }), V2)).toThrow(/no node plane/);
    expect(() => planCilium(nodes({ workloads: { podSelector: {}, namespaces: [] } }), V2)).toThrow(/nodeSelector/);
  });
});

describe('planCilium, every combination', () => {
  const podMatches = ['FQDNAndCIDR', 'CIDR', 'FQDN'] as const;
  const nodeMatches = ['CIDR', 'FQDNAndCIDR'] as const;
  const all: [string, EgressIntent][] = [
    ...podMatches.map((m): [string, EgressIntent] => [
      `AcrAccess pods ${m}`,
      intent({ options: { cilium: { podMatch: m, nodeMatch: 'CIDR' } } }),
    ]),
    ...podMatches.map((m): [string, EgressIntent] => [
      `ClusterAcrAccess pods ${m}`,
      clusterPods({ options: { cilium: { podMatch: m, nodeMatch: 'CIDR' } } }),
    ]),
    ...nodeMatches.map((m): [string, EgressIntent] => [
      `nodes ${m}`,
      nodes({ options: { cilium: { podMatch: 'CIDR', nodeMatch: m } } }),
    ]),
  ];

  it.each(all)('%s: every policy is additive (enableDefaultDeny false both ways)', (_, i) => {
    const policies = planCilium(i, V2).filter((o) => o.kind !== 'CiliumCIDRGroup');
    expect(policies.length).toBeGreaterThan(0);
    for (const p of policies) expect(spec(p).enableDefaultDeny).toEqual({ egress: false, ingress: false });
  });

  it.each(all)('%s: byte-deterministic, whatever the order of hosts and selector labels', (_, i) => {
    const shuffled: EgressIntent = {
      ...i,
      hosts: [...i.hosts].reverse(),
      workloads: {
        ...i.workloads,
        podSelector: { matchLabels: Object.fromEntries(Object.entries({ b: '2', a: '1' })) },
      },
    };
    const sorted: EgressIntent = {
      ...i,
      workloads: { ...i.workloads, podSelector: { matchLabels: { a: '1', b: '2' } } },
    };
    expect(JSON.stringify(planCilium(shuffled, V2))).toBe(JSON.stringify(planCilium(sorted, V2)));
  });
});

describe('planCilium names', () => {
  it('shortens long owner names to valid object names and group references', () => {
    const name = `${'a'.repeat(240)}.example`;
    const objects = planCilium(clusterPods({ owner: { ...CLUSTER, name } }), V2);
    for (const o of objects) expect(o.metadata.name.length).toBeLessThanOrEqual(253);
    const ref = (spec(objects[1]!).egress[0]!.toCIDRSet as { cidrGroupRef: string }[])[0]!.cidrGroupRef;
    expect(ref).toBe(objects[0]!.metadata.name);
    expect(ref).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
  });
});
