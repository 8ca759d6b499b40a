import { describe, expect, it } from 'vitest';
import { quote, selectorTerms, toCalicoSelector } from './selectors.js';

describe('toCalicoSelector', () => {
  it('matches everything for the empty selector, as Kubernetes does', () => {
    expect(toCalicoSelector({})).toBe('all()');
    expect(toCalicoSelector({ matchLabels: {}, matchExpressions: [] })).toBe('all()');
  });

  it('writes matchLabels as equalities sorted by key, so map order does not change the bytes', () => {
    const a = toCalicoSelector({ matchLabels: { 'k8s-app': 'kube-dns', 'app.kubernetes.io/name': 'x' } });
    const b = toCalicoSelector({ matchLabels: { 'app.kubernetes.io/name': 'x', 'k8s-app': 'kube-dns' } });
    expect(a).toBe("app.kubernetes.io/name == 'x' && k8s-app == 'kube-dns'");
    expect(b).toBe(a);
  });

  it('writes every operator in Calico syntax, after the matchLabels', () => {
    expect(
      toCalicoSelector({
        matchLabels: { tier: 'web' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'dev', 'prod'] },
          { key: 'team', operator: 'NotIn', values: ['b', 'a'] },
          { key: 'kubernetes.io/os', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist', values: [] },
        ],
      }),
    ).toBe(
      "tier == 'web' && env in {'dev', 'prod'} && team not in {'a', 'b'} && has(kubernetes.io/os) && !has(legacy)",
    );
  });

  it('keeps an empty label value, which Kubernetes allows', () => {
    expect(toCalicoSelector({ matchLabels: { role: '' } })).toBe("role == ''");
  });

  it('quotes with the quote character a value does not contain, and refuses a value with both', () => {
    expect(quote('plain')).toBe("'plain'");
    expect(quote("it's")).toBe(`"it's"`);
    expect(() => quote(`it's "x"`)).toThrow('both quote characters');
    expect(toCalicoSelector({ matchExpressions: [{ key: 'k', operator: 'In', values: ["o'k"] }] })).toBe(
      `k in {"o'k"}`,
    );
  });

  it('refuses keys that would change the expression instead of naming a label', () => {
    for (const key of ["a == 'b' || c", 'a b', 'has(x)', '', 'a)']) {
      expect(() => toCalicoSelector({ matchLabels: { [key]: 'v' } }), key).toThrow('is not a Calico label');
      expect(() => toCalicoSelector({ matchExpressions: [{ key, operator: 'Exists' }] }), key).toThrow(
        'is not a Calico label',
      );
    }
  });

  it('refuses requirements Kubernetes itself would refuse', () => {
    expect(() => toCalicoSelector({ matchExpressions: [{ key: 'k', operator: 'In', values: [] }] })).toThrow(
      'needs at least one value',
    );
    expect(() => toCalicoSelector({ matchExpressions: [{ key: 'k', operator: 'NotIn' }] })).toThrow(
      'needs at least one value',
    );
    expect(() => toCalicoSelector({ matchExpressions: [{ key: 'k', operator: 'Exists', values: ['x'] }] })).toThrow(
      'takes no values',
    );
    const bogus = { key: 'k', operator: 'Gt' } as unknown as { key: string; operator: 'In' };
    expect(() => toCalicoSelector({ matchExpressions: [bogus] })).toThrow('unknown operator');
  });

  it('gives the terms for callers that add their own', () => {
    expect(selectorTerms({})).toEqual([]);
    expect(selectorTerms({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'Exists' }] })).toEqual([
      "a == '1'",
      'has(b)',
    ]);
  });
});
