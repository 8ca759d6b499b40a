import { describe, expect, it } from 'vitest';
import { canonicalJson, labelValue, objectName, specHash, untouchedSinceWritten } from './ownership.js';

describe('ownership helpers', () => {
  it('hashes a spec the same whatever the key order, and differently when a value changes', () => {
    const a = {
      podSelector: { matchLabels: { b: '1', a: '2' } },
      policyTypes: ['Egress'],
      egress: [{ to: [], ports: [] }],
    };
    const b = {
      egress: [{ ports: [], to: [] }],
      policyTypes: ['Egress'],
      podSelector: { matchLabels: { a: '2', b: '1' } },
    };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(specHash(a)).toBe(specHash(b));
    expect(specHash({ ...a, policyTypes: ['Ingress'] })).not.toBe(specHash(a));
    expect(
      untouchedSinceWritten({ spec: b, metadata: { annotations: { 'acraccess.io/spec-hash': specHash(a) } } }),
    ).toBe(true);
    expect(untouchedSinceWritten({ spec: b, metadata: {} })).toBe(false);
  });

  it('shortens long names and label values with a hash, keeping them distinct', () => {
    const long = 'x'.repeat(300);
    expect(objectName(long)).toHaveLength(253);
    expect(objectName(long)).not.toBe(objectName(`${long}y`));
    expect(labelValue('short')).toBe('short');
    expect(labelValue('y'.repeat(80)).length).toBeLessThanOrEqual(63);
  });
});
