import { describe, expect, it } from 'vitest';
import { endpointsIn, normalizeSelector } from './selectors.js';

describe('endpointsIn: a NetworkPolicy-style peer as a Cilium endpoint selector', () => {
  it('names the namespace by io.kubernetes.pod.namespace and gives pod labels the k8s source', () => {
    expect(
      endpointsIn(
        { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
        { matchLabels: { 'k8s-app': 'kube-dns' } },
      ),
    ).toEqual({ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } });
  });

  it('selects other namespace labels through io.cilium.k8s.namespace.labels, expressions too', () => {
    expect(
      endpointsIn(
        {
          matchLabels: { team: 'dns' },
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['kube-system', 'dns'] }],
        },
        { matchExpressions: [{ key: 'k8s-app', operator: 'Exists' }] },
      ),
    ).toEqual({
      matchLabels: { 'k8s:io.cilium.k8s.namespace.labels.team': 'dns' },
      matchExpressions: [
        { key: 'k8s:io.kubernetes.pod.namespace', operator: 'In', values: ['kube-system', 'dns'] },
        { key: 'k8s:k8s-app', operator: 'Exists' },
      ],
    });
  });

  it('turns an empty namespace selector into "any namespace", not the policy’s own', () => {
    expect(endpointsIn({}, { matchLabels: { 'k8s-app': 'node-local-dns' } })).toEqual({
      matchLabels: { 'k8s:k8s-app': 'node-local-dns' },
      matchExpressions: [{ key: 'k8s:io.kubernetes.pod.namespace', operator: 'Exists' }],
    });
  });
});

describe('normalizeSelector', () => {
  it('sorts labels, drops empty parts and copies', () => {
    const input = { matchLabels: { b: '2', a: '1' }, matchExpressions: [] };
    const out = normalizeSelector(input);
    expect(JSON.stringify(out)).toBe('{"matchLabels":{"a":"1","b":"2"}}');
    expect(normalizeSelector({ matchLabels: {} })).toEqual({});
    out.matchLabels!.a = 'changed';
    expect(input.matchLabels.a).toBe('1');
  });
});
