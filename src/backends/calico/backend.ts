import type { BackendKind, Detection, KubernetesBackend, ServedKinds } from '../types.js';
import { CALICO_API_VERSION, calicoTier, planCalico } from './plan.js';

const kind = (k: string, namespaced: boolean): BackendKind => ({ apiVersion: CALICO_API_VERSION, kind: k, namespaced });

/**
 * Everything the backend writes. The Tier is created (once, as a prerequisite) but never owned or pruned; it is
 * listed for RBAC and for detection, which needs all five.
 */
export const CALICO_KINDS: readonly BackendKind[] = [
  kind('NetworkPolicy', true),
  kind('NetworkSet', true),
  kind('GlobalNetworkPolicy', false),
  kind('GlobalNetworkSet', false),
  { ...kind('Tier', false), prerequisite: true },
];

/**
 * Served when discovery lists all five projectcalico.org/v3 kinds. Whether the Calico API server or the native v3
 * CRDs (Calico 3.32+) serve them does not matter and discovery cannot tell. crd.projectcalico.org/v1 is the API
 * server's storage and is never asked about, let alone written.
 */
export async function detectCalico(served: ServedKinds): Promise<Detection> {
  const answers = await Promise.all(CALICO_KINDS.map((k) => served.serves(k.apiVersion, k.kind)));
  const missing = CALICO_KINDS.filter((_, i) => !answers[i]).map((k) => k.kind);
  if (missing.length === 0) {
    return {
      served: true,
      reason: `${CALICO_API_VERSION} NetworkPolicy, NetworkSet, GlobalNetworkPolicy, GlobalNetworkSet and Tier are served`,
      kinds: [...CALICO_KINDS],
    };
  }
  const what =
    missing.length === CALICO_KINDS.length
      ? `the Calico ${CALICO_API_VERSION} API is not served`
      : `${CALICO_API_VERSION} ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not served`;
  return {
    served: false,
    reason: `${what}: install the Calico API server or Calico 3.32+ native v3 CRDs (crd.projectcalico.org/v1 is not used)`,
    kinds: [],
  };
}

/**
 * Calico (projectcalico.org/v3): pod plane with NetworkPolicy + NetworkSet, node plane with GlobalNetworkPolicy on
 * host endpoints + GlobalNetworkSet, all in the acr-access tier, whose default action Pass makes every policy
 * allow-only.
 */
export const calicoBackend: KubernetesBackend = {
  name: 'Calico',
  planes: ['pod', 'node'],
  kinds: CALICO_KINDS,
  detect: detectCalico,
  plan: (intent, _detection, opts) => planCalico(intent, opts),
  prerequisites: (detection) => (detection.served ? [calicoTier()] : []),
};
