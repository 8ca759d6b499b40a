import type { BackendKind, Detection, KubernetesBackend, ServedKinds } from '../types.js';
import { CCNP, CIDR_GROUP, CILIUM_POLICY_VERSION, CNP, planCilium } from './plan.js';

/**
 * Discovery plus, where the caller can read the served schemas (OpenApiFields), whether a kind's schema has a
 * field. Without it detection falls back to what the served versions prove.
 */
export type ServedSchemas = ServedKinds;

const POLICIES: BackendKind[] = [
  { apiVersion: CILIUM_POLICY_VERSION, kind: CNP, namespaced: true },
  { apiVersion: CILIUM_POLICY_VERSION, kind: CCNP, namespaced: false },
];
/** Newest first: CiliumCIDRGroup moved to cilium.io/v2 in Cilium 1.18; v2alpha1 is what 1.13–1.17 serve. */
const CIDR_GROUPS: BackendKind[] = [
  { apiVersion: 'cilium.io/v2', kind: CIDR_GROUP, namespaced: false },
  { apiVersion: 'cilium.io/v2alpha1', kind: CIDR_GROUP, namespaced: false },
];
const DEFAULT_DENY_FIELD = ['spec', 'enableDefaultDeny'] as const;

/**
 * Whether Cilium can be written here without ever isolating a pod or node. Every policy this backend writes sets
 * `enableDefaultDeny: {egress: false, ingress: false}`; a CRD without that field (Cilium before 1.16,
 * cilium/cilium#30572) would have the API server prune it silently and the policy would put what it selects into
 * default deny. So the field must be proven: by the served schema when it can be read, else by CiliumCIDRGroup
 * being served at cilium.io/v2 (1.18+). A cluster where neither proves it is refused, and says why.
 *
 * Not visible from the API server: the agent flag `enable-non-default-deny-policies` (cilium/cilium#34940, default
 * true); set to false, it makes every policy default-deny again.
 */
export async function detectCilium(served: ServedSchemas): Promise<Detection> {
  const missing: string[] = [];
  for (const k of POLICIES) if (!(await served.serves(k.apiVersion, k.kind))) missing.push(k.kind);
  if (missing.length > 0)
    return { served: false, reason: `${CILIUM_POLICY_VERSION} ${missing.join(' and ')} not served`, kinds: [] };
  let group: BackendKind | undefined;
  for (const k of CIDR_GROUPS) if (!group && (await served.serves(k.apiVersion, k.kind))) group = k;
  if (!group)
    return {
      served: false,
      reason: `${CILIUM_POLICY_VERSION} ${CNP} served, but ${CIDR_GROUP} neither at cilium.io/v2 nor v2alpha1`,
      kinds: [],
    };
  const policies = `${CILIUM_POLICY_VERSION} ${CNP} and ${CCNP} served`;
  const groupText = `${CIDR_GROUP} ${group.apiVersion}`;
  const hasField = served.hasField?.bind(served);
  const fields = hasField
    ? await Promise.all(POLICIES.map((k) => hasField(k.apiVersion, k.kind, DEFAULT_DENY_FIELD)))
    : POLICIES.map(() => undefined);
  const lacking = POLICIES.filter((_, i) => fields[i] === false).map((k) => k.kind);
  if (lacking.length > 0)
    return {
      served: false,
      reason:
        `${policies}, but ${lacking.join(' and ')} lack${lacking.length === 1 ? 's' : ''} spec.enableDefaultDeny ` +
        `(Cilium before 1.16): any policy would put what it selects into default deny, so none is written; ` +
        groupText,
      kinds: [],
    };
  if (fields.every((f) => f === true))
    return {
      served: true,
      reason: `${policies} with spec.enableDefaultDeny; ${groupText}`,
      kinds: [...POLICIES, group],
    };
  if (group.apiVersion === 'cilium.io/v2')
    return {
      served: true,
      reason: `${policies}; ${groupText} (Cilium 1.18+, so spec.enableDefaultDeny is there)`,
      kinds: [...POLICIES, group],
    };
  return {
    served: false,
    reason:
      `${policies}; ${groupText} (Cilium 1.13–1.17), and the served schema could not be read to confirm ` +
      `spec.enableDefaultDeny (1.16+); without it a policy would isolate, so none is written`,
    kinds: [],
  };
}

/**
 * Cilium: pod plane (CiliumNetworkPolicy) and node plane (CiliumClusterwideNetworkPolicy on the host firewall),
 * addresses in CiliumCIDRGroups for cluster-scoped owners. Additive only: see detectCilium and plan.ts.
 */
export const ciliumBackend: KubernetesBackend = {
  name: 'Cilium',
  planes: ['pod', 'node'],
  kinds: [...POLICIES, ...CIDR_GROUPS],
  detect: detectCilium,
  plan(intent, detection, opts) {
    const group = detection.kinds.find((k) => k.kind === CIDR_GROUP);
    // Planning for a cluster detection refused could write an isolating policy: never.
    if (!detection.served || !group) throw new Error(`Cilium cannot be planned for this cluster: ${detection.reason}`);
    return planCilium(intent, { cidrGroupVersion: group.apiVersion, maxBytesPerObject: opts?.maxBytesPerObject });
  },
};
