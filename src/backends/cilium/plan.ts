import { jsonStringBytes, shardByBytes } from '../../addresses/shard.js';
import { KIND_ACR_ACCESS } from '../../api/types.js';
import type { EgressIntent } from '../../intent/intent.js';
import type { KubeObject } from '../../kube/types.js';
import { ANNOTATIONS, objectName, ownerId, ownerLabels, ownerReference } from '../ownership.js';
import { endpointsIn, normalizeSelector } from './selectors.js';

export const CILIUM_POLICY_VERSION = 'cilium.io/v2';
export const CNP = 'CiliumNetworkPolicy';
export const CCNP = 'CiliumClusterwideNetworkPolicy';
export const CIDR_GROUP = 'CiliumCIDRGroup';

export interface CiliumPlanOptions {
  /** apiVersion of CiliumCIDRGroup to write: `cilium.io/v2` (Cilium 1.18+) or `cilium.io/v2alpha1`. */
  cidrGroupVersion: string;
  /** Largest list of prefixes one object may carry, in bytes of JSON. */
  maxBytesPerObject?: number;
}

const DEFAULT_MAX_BYTES = 512 * 1024;
/** `{"cidr":}` around each inline prefix. */
const CIDR_RULE_OVERHEAD = 9;

/**
 * The product's core promise on Cilium: a policy only adds allows. Without this, the first policy selecting an
 * endpoint puts it into default-deny for that direction (docs.cilium.io/en/stable/security/policy/intro/
 * "Endpoint default policy"; field added by cilium/cilium#30572, Cilium 1.16). Detection refuses clusters whose
 * CRDs lack the field, because the API server would silently prune it and the policy would isolate.
 */
export const ADDITIVE = { egress: false, ingress: false } as const;

/**
 * Every DNS query of the selected pods is allowed through the DNS proxy, not only the registry's names: an L7 DNS
 * rule denies the queries it does not list even with enableDefaultDeny false (cilium/cilium#38676, reported on 1.16
 * and 1.17; fixed upstream by #38841, which adds this same wildcard), and that would break the pods' other lookups.
 * The proxy only has to see the answers for the toFQDNs names; `*` lets it see them and refuses nothing.
 */
function dnsPorts(): Record<string, unknown>[] {
  return [
    {
      ports: [
        { port: '53', protocol: 'UDP' },
        { port: '53', protocol: 'TCP' },
      ],
      rules: { dns: [{ matchPattern: '*' }] },
    },
  ];
}

/**
 * Cilium objects for one intent. The pod plane is one CiliumNetworkPolicy per namespace, the node plane one
 * CiliumClusterwideNetworkPolicy with a nodeSelector (host firewall). Matching by address and by name are separate
 * policies (`<base>` and `<base>-fqdn`): an agent without the L7 proxy (AKS without ACNS FQDN filtering) refuses a
 * whole policy that has a DNS rule ("L7 policy is not supported since L7 proxy is not enabled",
 * pkg/policy/api/rule_validation.go), and the address allow must survive that.
 *
 * Addresses: an AcrAccess (namespaced) carries them inline in toCIDRSet, split over several policies by byte budget
 * — it cannot own a cluster-scoped CiliumCIDRGroup (the garbage collector would delete it). A ClusterAcrAccess puts
 * them in CiliumCIDRGroups it owns, referenced by name; its pod and node intents plan byte-identical groups, so the
 * sync writes them once.
 */
export function planCilium(intent: EgressIntent, opts: CiliumPlanOptions): KubeObject[] {
  // Each item is counted with its separator; the list's brackets come off the budget.
  const budget = (opts.maxBytesPerObject ?? DEFAULT_MAX_BYTES) - 2;
  const match = intent.plane === 'pod' ? intent.options.cilium.podMatch : intent.options.cilium.nodeMatch;
  const byAddress = match !== 'FQDN';
  const byName = match !== 'CIDR';
  const namespaced = intent.owner.kind === KIND_ACR_ACCESS;
  if (intent.plane === 'node' && namespaced)
    throw new Error(`${ownerId(intent.owner)}: an AcrAccess has no node plane; only a ClusterAcrAccess selects nodes`);
  if (intent.plane === 'node' && !intent.workloads.nodeSelector)
    throw new Error(`${ownerId(intent.owner)}: a node-plane intent needs a nodeSelector`);
  if (intent.plane === 'pod' && intent.workloads.namespaces.length === 0) return [];
  const prefixes = [...intent.prefixes.ipv4, ...intent.prefixes.ipv6];
  // An egress rule with an empty peer list allows every destination on its ports: never write one.
  if (byAddress && prefixes.length === 0)
    throw new Error(`${ownerId(intent.owner)}: no addresses to allow; refusing to write a policy that would only deny`);
  if (byName && intent.hosts.length === 0)
    throw new Error(`${ownerId(intent.owner)}: no host names to allow; a toFQDNs rule needs at least one`);

  const base = `${namespaced ? 'acr-access' : 'cluster-acr-access'}-${intent.owner.name}`;
  const groups = byAddress && !namespaced ? cidrGroups(intent, base, prefixes, opts.cidrGroupVersion, budget) : [];
  // Each element is the egress rules of one address policy: the groups' refs, or one inline shard of prefixes.
  const addressRules: Record<string, unknown>[][] = !byAddress
    ? []
    : namespaced
      ? shardByBytes(prefixes, (p) => jsonStringBytes(p) + CIDR_RULE_OVERHEAD, budget).map((shard) => [
          { toCIDRSet: shard.map((cidr) => ({ cidr })), toPorts: toPorts(intent) },
        ])
      : [[{ toCIDRSet: groups.map((g) => ({ cidrGroupRef: g.metadata.name })), toPorts: toPorts(intent) }]];
  const nameRules = byName ? fqdnRules(intent) : undefined;

  const policies: KubeObject[] = [];
  const scopes = intent.plane === 'pod' ? intent.workloads.namespaces : [undefined];
  for (const namespace of scopes) {
    addressRules.forEach((egress, i) => {
      const name = objectName(i === 0 ? base : `${base}-${i + 1}`);
      // Inline prefixes carry the feed; a policy that only references CIDR groups does not, so a feed change
      // rewrites the groups alone.
      policies.push(policy(intent, name, namespace, egress, namespaced, `${i + 1}/${addressRules.length}`));
    });
    if (nameRules) policies.push(policy(intent, objectName(`${base}-fqdn`), namespace, nameRules, false));
  }
  return [...groups, ...policies];
}

function toPorts(intent: EgressIntent): Record<string, unknown>[] {
  return [{ ports: intent.ports.map((p) => ({ port: String(p.port), protocol: p.protocol })) }];
}

/**
 * toFQDNs to the registry hosts, plus the DNS rule that makes them work: toFQDNs matches only addresses the
 * agent's DNS proxy saw in answers, so the lookups must be redirected to it by an L7 DNS rule (cilium/cilium#7109;
 * docs "DNS based": requires enable-l7-proxy and an L7 DNS policy).
 *
 * Pods: DNS to the intent's resolver (kube-dns by default). When the resource turned the DNS rule off, the name
 * policy is still planned without one: it then works only if another policy already sends these pods' DNS through
 * the proxy (a cluster-wide "DNS visibility" policy, as the Cilium docs recommend), and matches nothing otherwise.
 * Falling back to addresses instead would widen the allow beyond what the resource chose (podMatch FQDN exists to
 * avoid opening whole Storage service-tag ranges), so it is not done.
 *
 * Nodes: the host's resolver is whatever /etc/resolv.conf names (Azure DNS, a custom VNet DNS), so the DNS rule has
 * no peer: port 53 anywhere. Host L7 DNS rules are beta and send all host DNS through the agent's proxy; while the
 * agent restarts, DNS of the node times out, so image pulls (the agent's own image too) fail until it is back
 * (docs.cilium.io/en/stable/security/policy/host/, cilium/cilium#40670, #45077). This is why nodeMatch defaults
 * to CIDR.
 */
function fqdnRules(intent: EgressIntent): Record<string, unknown>[] {
  const toFQDNs = hostsOf(intent).map((h) => (h.includes('*') ? { matchPattern: h } : { matchName: h }));
  const rules: Record<string, unknown>[] = [{ toFQDNs, toPorts: toPorts(intent) }];
  if (intent.plane === 'node') {
    rules.push({ toPorts: dnsPorts() });
  } else if (intent.dns) {
    rules.push({
      toEndpoints: [endpointsIn(intent.dns.namespaceSelector, intent.dns.podSelector)],
      toPorts: dnsPorts(),
    });
  }
  return rules;
}

/** Sorted and without repeats, so the order the hosts were found in never changes a byte. */
function hostsOf(intent: EgressIntent): string[] {
  return [...new Set(intent.hosts)].sort();
}

function policy(
  intent: EgressIntent,
  name: string,
  namespace: string | undefined,
  egress: Record<string, unknown>[],
  carriesPrefixes: boolean,
  shard?: string,
): KubeObject {
  const metadata = meta(intent, name, namespace, true, carriesPrefixes);
  if (shard) metadata.annotations![ANNOTATIONS.shard] = shard;
  const subject =
    intent.plane === 'pod'
      ? { endpointSelector: normalizeSelector(intent.workloads.podSelector) }
      : { nodeSelector: normalizeSelector(intent.workloads.nodeSelector ?? {}) };
  return {
    apiVersion: CILIUM_POLICY_VERSION,
    kind: intent.plane === 'pod' ? CNP : CCNP,
    metadata,
    // Copied: the same rules go to every namespace, and no two planned objects may share a mutable part.
    spec: { ...subject, enableDefaultDeny: { ...ADDITIVE }, egress: structuredClone(egress) },
  };
}

/**
 * The owner's CiliumCIDRGroups. Everything in them derives from the owner, the prefixes, the feed's change number,
 * the budget and the version — never from the plane — so the pod and node intents of one resource plan the same
 * bytes (the sync refuses two different objects under one name).
 */
function cidrGroups(
  intent: EgressIntent,
  base: string,
  prefixes: string[],
  apiVersion: string,
  budget: number,
): KubeObject[] {
  const shards = shardByBytes(prefixes, jsonStringBytes, budget);
  return shards.map((externalCIDRs, i) => {
    const metadata = meta(intent, objectName(i === 0 ? base : `${base}-${i + 1}`), undefined, false, true);
    metadata.annotations![ANNOTATIONS.shard] = `${i + 1}/${shards.length}`;
    return { apiVersion, kind: CIDR_GROUP, metadata, spec: { externalCIDRs } };
  });
}

function meta(
  intent: EgressIntent,
  name: string,
  namespace: string | undefined,
  withHosts: boolean,
  carriesPrefixes: boolean,
) {
  const annotations: Record<string, string> = { [ANNOTATIONS.owner]: ownerId(intent.owner) };
  if (carriesPrefixes) annotations[ANNOTATIONS.changeNumber] = String(intent.provenance.feed.changeNumber);
  if (withHosts) annotations[ANNOTATIONS.hosts] = hostsOf(intent).join(',');
  const metadata: KubeObject['metadata'] = namespace ? { name, namespace } : { name };
  metadata.labels = ownerLabels(intent.owner);
  metadata.annotations = annotations;
  // A cluster-scoped owner may own objects anywhere; a namespaced one only in its own namespace.
  const ref =
    !intent.owner.namespace || namespace === intent.owner.namespace ? ownerReference(intent.owner) : undefined;
  if (ref) metadata.ownerReferences = [ref];
  return metadata;
}
