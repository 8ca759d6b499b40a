import type { AcrAccessStatus, LabelSelector } from '../api/types.js';
import { parsePrefix } from '../addresses/cidr.js';
import { matchesSelector } from '../kube/selector.js';
import type { KubeObject } from '../kube/types.js';

/** Namespaces a broad selector (`{}`, `Exists`…) must not sweep in: Kubernetes' own. */
export const SYSTEM_NAMESPACES = ['kube-node-lease', 'kube-public', 'kube-system'] as const;
const NAME_LABEL = 'kubernetes.io/metadata.name';

/** Whether a selector names this namespace by its immutable name label (matchLabels or an `In` expression). */
export function namesNamespace(selector: LabelSelector, namespace: string): boolean {
  if (selector.matchLabels?.[NAME_LABEL] === namespace) return true;
  return (selector.matchExpressions ?? []).some(
    (e) => e.key === NAME_LABEL && e.operator === 'In' && (e.values ?? []).includes(namespace),
  );
}

/**
 * The namespaces a ClusterAcrAccess's namespaceSelector selects. System namespaces and the operator's own are
 * selected only when named explicitly; those the selector matched otherwise are returned as `excluded`, for status.
 */
export function selectNamespaces(
  selector: LabelSelector,
  namespaces: KubeObject[],
  operatorNamespace?: string,
): { selected: string[]; excluded: string[] } {
  const guarded = new Set<string>([...SYSTEM_NAMESPACES, ...(operatorNamespace ? [operatorNamespace] : [])]);
  const selected: string[] = [];
  const excluded: string[] = [];
  for (const ns of namespaces) {
    const name = ns.metadata.name;
    if (!matchesSelector(selector, ns.metadata.labels)) continue;
    if (guarded.has(name) && !namesNamespace(selector, name)) excluded.push(name);
    else selected.push(name);
  }
  return { selected: selected.sort(), excluded: excluded.sort() };
}

/**
 * The prefixes the operator recorded as written, from its ledger in status. Entries that do not parse are dropped:
 * the ledger is read back, and only well-formed prefixes may ever be allowed again.
 */
export function ledgerPrefixes(status: AcrAccessStatus | undefined): string[] {
  const out: string[] = [];
  for (const p of status?.applied?.prefixes ?? []) {
    try {
      parsePrefix(p);
      out.push(p);
    } catch {
      // not a prefix: never carried forward
    }
  }
  return out;
}
