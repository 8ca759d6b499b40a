import { describe, expect, it } from 'vitest';
import { ledgerPrefixes, namesNamespace, selectNamespaces } from './scope.js';

const ns = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
});
const all = [ns('kube-system'), ns('kube-public'), ns('acr-access-system'), ns('team-a', { team: 'a' }), ns('team-b')];

describe('namespace selection for a ClusterAcrAccess', () => {
  it('leaves system namespaces and the operator namespace out of a select-all selector, and says which', () => {
    expect(selectNamespaces({}, all, 'acr-access-system')).toEqual({
      selected: ['team-a', 'team-b'],
      excluded: ['acr-access-system', 'kube-public', 'kube-system'],
    });
  });

  it('selects a guarded namespace when it is named by kubernetes.io/metadata.name', () => {
    const byLabel = { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } };
    expect(selectNamespaces(byLabel, all, 'acr-access-system')).toEqual({ selected: ['kube-system'], excluded: [] });
    const byIn = {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'In' as const, values: ['kube-system', 'team-b'] },
      ],
    };
    expect(selectNamespaces(byIn, all).selected).toEqual(['kube-system', 'team-b']);
    expect(
      namesNamespace(
        { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['x'] }] },
        'x',
      ),
    ).toBe(false);
  });

  it('applies the selector itself as Kubernetes does', () => {
    expect(selectNamespaces({ matchLabels: { team: 'a' } }, all).selected).toEqual(['team-a']);
  });
});

describe('the ledger', () => {
  it('carries forward only well-formed prefixes', () => {
    expect(
      ledgerPrefixes({ applied: { prefixes: ['20.1.2.0/24', 'nonsense', '2603:1000::/40', '1.2.3.4/99'] } }),
    ).toEqual(['20.1.2.0/24', '2603:1000::/40']);
    expect(ledgerPrefixes(undefined)).toEqual([]);
  });
});
