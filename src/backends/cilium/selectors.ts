import type { LabelSelector, LabelSelectorRequirement } from '../../api/types.js';

/**
 * Label keys Cilium gives every pod identity (pkg/k8s/apis/cilium.io/const.go): the pod's namespace name, and one
 * label per label of its namespace. `k8s:` is the label source; a CiliumNetworkPolicy peer has no
 * `namespaceSelector`, so a Kubernetes namespace selector is expressed with these keys inside `toEndpoints`
 * (docs.cilium.io/en/stable/security/policy/kubernetes/#namespaces).
 */
export const POD_NAMESPACE = 'k8s:io.kubernetes.pod.namespace';
export const NAMESPACE_LABEL_PREFIX = 'k8s:io.cilium.k8s.namespace.labels.';
/** The label Kubernetes sets on every namespace to its name; Cilium has the name as its own key. */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * A copy of a Kubernetes label selector with its labels in sorted key order and only the fields it has, so equal
 * selectors always serialize to the same bytes (and compare equal with what the API server stores).
 */
export function normalizeSelector(selector: LabelSelector): LabelSelector {
  const out: LabelSelector = {};
  if (selector.matchLabels && Object.keys(selector.matchLabels).length > 0)
    out.matchLabels = sorted(selector.matchLabels);
  if (selector.matchExpressions && selector.matchExpressions.length > 0)
    out.matchExpressions = selector.matchExpressions.map(requirement);
  return out;
}

/**
 * The Cilium endpoint selector for "pods matching `pods` in namespaces matching `namespaces`", as a NetworkPolicy
 * peer with both selectors means it. Namespace labels become `io.cilium.k8s.namespace.labels.<key>`, the
 * namespace-name label becomes `io.kubernetes.pod.namespace` (set on every identity, whatever the agent's
 * identity-label filter keeps), and pod labels get the `k8s:` source. An empty namespace selector means every
 * namespace: it is written as `io.kubernetes.pod.namespace Exists`, because a peer without any namespace key is
 * confined to the policy's own namespace by the agent (EnsureNamespaceSelector in pkg/policy/utils).
 */
export function endpointsIn(namespaces: LabelSelector, pods: LabelSelector): LabelSelector {
  const labels: Record<string, string> = {};
  const expressions: LabelSelectorRequirement[] = [];
  for (const [key, value] of Object.entries(namespaces.matchLabels ?? {})) labels[namespaceKey(key)] = value;
  for (const r of namespaces.matchExpressions ?? []) expressions.push(requirement({ ...r, key: namespaceKey(r.key) }));
  if (Object.keys(labels).length === 0 && expressions.length === 0)
    expressions.push({ key: POD_NAMESPACE, operator: 'Exists' });
  for (const [key, value] of Object.entries(pods.matchLabels ?? {})) labels[`k8s:${key}`] = value;
  for (const r of pods.matchExpressions ?? []) expressions.push(requirement({ ...r, key: `k8s:${r.key}` }));
  return normalizeSelector({ matchLabels: labels, matchExpressions: expressions });
}

function namespaceKey(key: string): string {
  return key === NAMESPACE_NAME_LABEL ? POD_NAMESPACE : `${NAMESPACE_LABEL_PREFIX}${key}`;
}

function requirement(r: LabelSelectorRequirement): LabelSelectorRequirement {
  const out: LabelSelectorRequirement = { key: r.key, operator: r.operator };
  if (r.values) out.values = [...r.values];
  return out;
}

function sorted(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) out[key] = labels[key]!;
  return out;
}
