import { describe, expect, it } from 'vitest';
import { mergePatchOf } from './apply.js';

/** RFC 7386 applied to a plain JSON value, to check a patch really turns one spec into the other. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

describe('mergePatchOf', () => {
  it('removes fields and list elements others added, and leaves what is already right out of the patch', () => {
    const live = { nets: ['10.0.0.0/24', '0.0.0.0/0'], extra: { a: 1 }, same: { deep: [1, 2] } };
    const want = { nets: ['10.0.0.0/24'], same: { deep: [1, 2] }, added: true };
    const patch = mergePatchOf(live, want);
    expect(patch).toEqual({ nets: ['10.0.0.0/24'], extra: null, added: true });
    expect(applyMergePatch(live, patch)).toEqual(want);
  });
});
