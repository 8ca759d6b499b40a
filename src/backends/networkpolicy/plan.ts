import { jsonStringBytes, shardByBytes } from '../../addresses/shard.js';
import type { EgressIntent } from '../../intent/intent.js';
import type { KubeObject } from '../../kube/types.js';
import { ANNOTATIONS, objectName, ownerId, ownerLabels, ownerReference } from '../ownership.js';
import type { KubernetesBackend } from '../types.js';

export interface NetworkPolicyPlanOptions {
  /** Largest ipBlock list one object may carry, in bytes of JSON. etcd refuses objects over 1.5 MiB. */
  maxBytesPerObject?: number;
}

const DEFAULT_MAX_BYTES = 512 * 1024;
/** `{"ipBlock":{"cidr":""}}` around each prefix. */
const IP_BLOCK_OVERHEAD = 22;

/**
 * `networking.k8s.io/v1` NetworkPolicies for the pod plane: egress from the selected pods to the intent's prefixes
 * on its ports, plus DNS. Hosts cannot be expressed in a NetworkPolicy; they are listed in an annotation for
 * people. The same intent always gives byte-identical objects: prefixes keep the intent's order (sorted by
 * address), names are derived from the owner, and large sets are split into several objects by byte budget.
 */
export function planNetworkPolicies(intent: EgressIntent, opts: NetworkPolicyPlanOptions = {}): KubeObject[] {
  if (intent.plane !== 'pod') return [];
  const prefixes = [...intent.prefixes.ipv4, ...intent.prefixes.ipv6];
  if (prefixes.length === 0)
    throw new Error(`${ownerId(intent.owner)}: no addresses to allow; refusing to write a policy that would only deny`);
  const shards = shardByBytes(
    prefixes,
    (p) => jsonStringBytes(p) + IP_BLOCK_OVERHEAD,
    opts.maxBytesPerObject ?? DEFAULT_MAX_BYTES,
  );
  const base =
    intent.owner.kind === 'AcrAccess' ? `acr-access-${intent.owner.name}` : `cluster-acr-access-${intent.owner.name}`;
  const objects: KubeObject[] = [];
  for (const namespace of intent.workloads.namespaces) {
    shards.forEach((shard, i) => {
      const egress: Record<string, unknown>[] = [
        {
          to: shard.map((cidr) => ({ ipBlock: { cidr } })),
          ports: intent.ports.map((p) => ({ protocol: p.protocol, port: p.port })),
        },
      ];
      // NetworkPolicies add up, so the DNS rule is needed in one object only.
      if (intent.dns && i === 0) {
        egress.push({
          to: [{ namespaceSelector: intent.dns.namespaceSelector, podSelector: intent.dns.podSelector }],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        });
      }
      const metadata: KubeObject['metadata'] = {
        name: objectName(i === 0 ? base : `${base}-${i + 1}`),
        namespace,
        labels: ownerLabels(intent.owner),
        annotations: {
          [ANNOTATIONS.owner]: ownerId(intent.owner),
          [ANNOTATIONS.changeNumber]: String(intent.provenance.feed.changeNumber),
          [ANNOTATIONS.hosts]: intent.hosts.join(','),
          [ANNOTATIONS.shard]: `${i + 1}/${shards.length}`,
        },
      };
      // A cluster-scoped owner may own objects in any namespace; a namespaced one only in its own.
      const ref =
        !intent.owner.namespace || namespace === intent.owner.namespace ? ownerReference(intent.owner) : undefined;
      if (ref) metadata.ownerReferences = [ref];
      objects.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata,
        spec: { podSelector: intent.workloads.podSelector, policyTypes: ['Egress'], egress },
      });
    });
  }
  return objects;
}

const NETWORK_POLICY = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespaced: true };

/** Kubernetes NetworkPolicy: always served, pod plane only, and it isolates what it selects (stated in status). */
export const networkPolicyBackend: KubernetesBackend = {
  name: 'NetworkPolicy',
  planes: ['pod'],
  kinds: [NETWORK_POLICY],
  detect: async (served) =>
    (await served.serves(NETWORK_POLICY.apiVersion, NETWORK_POLICY.kind))
      ? { served: true, reason: 'networking.k8s.io/v1 NetworkPolicy is served', kinds: [NETWORK_POLICY] }
      : { served: false, reason: 'networking.k8s.io/v1 NetworkPolicy is not served', kinds: [] },
  plan: (intent, _detection, opts) => planNetworkPolicies(intent, opts),
};
