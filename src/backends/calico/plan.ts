import { createHash } from 'node:crypto';
import { jsonStringBytes, shardByBytes } from '../../addresses/shard.js';
import type { EgressIntent } from '../../intent/intent.js';
import type { KubeObject } from '../../kube/types.js';
import {
  ANNOTATIONS,
  LABELS,
  MANAGED_BY,
  labelValue,
  objectName,
  ownerId,
  ownerLabels,
  ownerReference,
} from '../ownership.js';
import { quote, selectorTerms, toCalicoSelector } from './selectors.js';

/** Only the v3 API, served by the Calico API server or by native v3 CRDs (3.32+); never crd.projectcalico.org/v1. */
export const CALICO_API_VERSION = 'projectcalico.org/v3';
export const TIER_NAME = 'acr-access';
/**
 * Just before the `default` tier (order 1,000,000; kube-admin is 1,000 and kube-baseline 10,000,000:
 * api/pkg/apis/projectcalico/v3/tier.go, https://docs.tigera.io/calico/latest/network-policy/policy-tiers/tiered-policy).
 * Every tier an admin ordered before `default` decides first; our allows only get ahead of the `default` tier,
 * where Kubernetes NetworkPolicies and untiered Calico policies isolate pods.
 */
export const TIER_ORDER = 999_000;
/** Every address set of one owner carries this label; its policies select the sets by it, all shards at once. */
export const SET_LABEL = 'acraccess.io/set';
/** Workload endpoints and namespaced NetworkSets carry it; host endpoints and GlobalNetworkSets do not. */
const NAMESPACE_LABEL = 'projectcalico.org/namespace';

const DEFAULT_MAX_BYTES = 512 * 1024;

export interface CalicoPlanOptions {
  /** Largest `spec.nets` list one set may carry, in bytes of JSON. etcd refuses objects over 1.5 MiB. */
  maxBytesPerObject?: number;
}

/**
 * The tier our policies live in. `defaultAction: Pass`: traffic none of our rules allow goes on to the next tier as
 * if we were not there, so these policies only add allows and never isolate anything
 * (https://docs.tigera.io/calico/latest/reference/resources/tier: "If the last Tier applying to the endpoint Passes
 * the packet, that endpoint's Profiles are evaluated"). Cluster-wide and shared by every owner: no owner, not pruned.
 */
export function calicoTier(): KubeObject {
  return {
    apiVersion: CALICO_API_VERSION,
    kind: 'Tier',
    metadata: { name: TIER_NAME, labels: { [LABELS.managedBy]: MANAGED_BY } },
    spec: { order: TIER_ORDER, defaultAction: 'Pass' },
  };
}

/**
 * Calico objects for one intent: address sets sharded by byte budget, and one policy in the acr-access tier that
 * allows egress to every shard by label. Pure and byte-deterministic: prefixes keep the intent's order, names and
 * selectors derive from the owner alone.
 *
 * - pod plane: per namespace, NetworkSets and a NetworkPolicy. A rule selector without namespaceSelector in a
 *   namespaced policy matches only that namespace's endpoints and sets (EntityRule docs in
 *   api/pkg/apis/projectcalico/v3/policy_common.go), so another namespace cannot add addresses to it.
 * - node plane (ClusterAcrAccess only): GlobalNetworkSets and a GlobalNetworkPolicy on the nodes' host endpoints.
 */
export function planCalico(intent: EgressIntent, opts: CalicoPlanOptions = {}): KubeObject[] {
  const prefixes = [...intent.prefixes.ipv4, ...intent.prefixes.ipv6];
  // Same refusal as the NetworkPolicy planner: an empty plan would prune live allows, so no data is an error.
  if (prefixes.length === 0)
    throw new Error(`${ownerId(intent.owner)}: no addresses to allow; refusing to plan empty address sets`);
  // jsonStringBytes counts each string with one separator; the list's two brackets come off the budget, so the
  // whole `spec.nets` array stays within it.
  const shards = shardByBytes(prefixes, jsonStringBytes, (opts.maxBytesPerObject ?? DEFAULT_MAX_BYTES) - 2);
  const base =
    intent.owner.kind === 'AcrAccess' ? `acr-access-${intent.owner.name}` : `cluster-acr-access-${intent.owner.name}`;
  const names: Names = {
    // Every shard gets its number, the first too: `acr-access-x-2` can then never be both shard 2 of `x` and
    // shard 1 of an owner called `x-2`.
    set: (i) => objectName(`${base}-${i + 1}`),
    // Tiered policy names: `<tier>.<DNS label>`. Calico up to 3.31 requires the tier prefix (libcalico-go
    // names.ValidateTieredPolicyName); 3.32 no longer does, and still accepts one dot (networkPolicyNameRegex).
    policy: `${TIER_NAME}.${dnsLabel(base)}`,
    setId: labelValue(base),
  };
  if (intent.plane === 'node') return planNodePlane(intent, shards, names);
  return intent.workloads.namespaces.flatMap((ns) => planPodPlane(intent, ns, shards, names));
}

interface Names {
  set: (index: number) => string;
  policy: string;
  setId: string;
}

function planPodPlane(intent: EgressIntent, namespace: string, shards: string[][], names: Names): KubeObject[] {
  // A cluster-scoped owner may own objects in any namespace; a namespaced one only in its own.
  const owned = !intent.owner.namespace || namespace === intent.owner.namespace;
  const sets = shards.map((nets, i) =>
    object(intent, 'NetworkSet', { name: names.set(i), namespace }, owned, { nets }, shardOf(names, i, shards)),
  );
  const egress = registryRules(intent, { selector: setSelector(names.setId) });
  const dns = intent.dns;
  if (dns) {
    // Calico matches one protocol per rule: one rule each for UDP and TCP 53, to the DNS pods by selector.
    for (const protocol of ['UDP', 'TCP']) {
      egress.push({
        action: 'Allow',
        protocol,
        destination: {
          namespaceSelector: toCalicoSelector(dns.namespaceSelector),
          selector: toCalicoSelector(dns.podSelector),
          ports: [53],
        },
      });
    }
  }
  const policy = object(intent, 'NetworkPolicy', { name: names.policy, namespace }, owned, {
    tier: TIER_NAME,
    selector: toCalicoSelector(intent.workloads.podSelector),
    types: ['Egress'],
    egress,
  });
  return [...sets, policy];
}

function planNodePlane(intent: EgressIntent, shards: string[][], names: Names): KubeObject[] {
  // A namespaced owner must never reach cluster-scoped policy; the intent builder only makes node intents for a
  // ClusterAcrAccess, and this keeps it so.
  if (intent.owner.namespace)
    throw new Error(`${ownerId(intent.owner)}: a namespaced owner cannot govern the node plane`);
  const nodeSelector = intent.workloads.nodeSelector;
  if (!nodeSelector) throw new Error(`${ownerId(intent.owner)}: a node-plane intent needs a nodeSelector`);
  const sets = shards.map((nets, i) =>
    object(intent, 'GlobalNetworkSet', { name: names.set(i) }, true, { nets }, shardOf(names, i, shards)),
  );
  const policy = object(intent, 'GlobalNetworkPolicy', { name: names.policy }, true, {
    tier: TIER_NAME,
    // Automatic host endpoints carry their node's labels ("the host endpoint containing the same labels and IP
    // addresses as its corresponding node": https://docs.tigera.io/calico/latest/network-policy/hosts/kubernetes-nodes;
    // kube-controllers copies node.Labels in generateAutoHostEndpoint), so the nodeSelector selects them. A
    // GlobalNetworkPolicy selector also matches pods; `!has(projectcalico.org/namespace)` keeps it to hosts.
    // applyOnForward stays false: the rule governs the host's own traffic (kubelet, containerd), not forwarded
    // pod traffic.
    selector: [...selectorTerms(nodeSelector), `!has(${NAMESPACE_LABEL})`].join(' && '),
    types: ['Egress'],
    // No DNS rule here (nodePlaneIntent sets none): the host's resolver is not ours to restrict.
    // global(): only GlobalNetworkSets (and host endpoints) match, never a namespaced NetworkSet a tenant labelled
    // like ours; without it a GlobalNetworkPolicy's rule selector spans every namespace.
    egress: registryRules(intent, { namespaceSelector: 'global()', selector: setSelector(names.setId) }),
  });
  return [...sets, policy];
}

/** One Allow rule per protocol, with its ports, to the owner's sets. No Deny anywhere: the tier passes the rest. */
function registryRules(intent: EgressIntent, destination: Record<string, unknown>): Record<string, unknown>[] {
  const protocols = [...new Set(intent.ports.map((p) => p.protocol))];
  return protocols.map((protocol) => ({
    action: 'Allow',
    protocol,
    destination: { ...destination, ports: intent.ports.filter((p) => p.protocol === protocol).map((p) => p.port) },
  }));
}

const setSelector = (id: string) => `${SET_LABEL} == ${quote(id)}`;

interface Shard {
  id: string;
  index: number;
  count: number;
}

const shardOf = (names: Names, index: number, shards: unknown[]): Shard => ({
  id: names.setId,
  index,
  count: shards.length,
});

function object(
  intent: EgressIntent,
  kind: string,
  where: { name: string; namespace?: string },
  owned: boolean,
  spec: Record<string, unknown>,
  shard?: Shard,
): KubeObject {
  const labels = ownerLabels(intent.owner);
  if (shard) labels[SET_LABEL] = shard.id;
  const annotations: Record<string, string> = {
    [ANNOTATIONS.owner]: ownerId(intent.owner),
    [ANNOTATIONS.hosts]: intent.hosts.join(','),
  };
  // Only the sets carry prefixes: a feed change rewrites them, never the policies.
  if (shard) annotations[ANNOTATIONS.changeNumber] = String(intent.provenance.feed.changeNumber);
  if (shard) annotations[ANNOTATIONS.shard] = `${shard.index + 1}/${shard.count}`;
  const metadata: KubeObject['metadata'] = { ...where, labels, annotations };
  const ref = owned ? ownerReference(intent.owner) : undefined;
  if (ref) metadata.ownerReferences = [ref];
  return { apiVersion: CALICO_API_VERSION, kind, metadata, spec };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A DNS-1123 label (what Calico wants after the tier prefix): as is when it already is one, else with other
 * characters (dots) made dashes, cut to fit, and a hash of the original so distinct names stay distinct.
 */
export function dnsLabel(s: string): string {
  if (s.length <= 63 && DNS_LABEL.test(s)) return s;
  const hash = createHash('sha256').update(s).digest('hex').slice(0, 10);
  const safe = s
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 52)
    .replace(/^-+|-+$/g, '');
  return safe ? `${safe}-${hash}` : hash;
}
