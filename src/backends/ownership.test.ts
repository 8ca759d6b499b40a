import { describe, expect, it } from 'vitest';
import { controllerUid, isControlledBy, labelValue, objectName } from './ownership.js';

describe('ownership helpers', () => {
  it("recognises an object as an owner's only by its controller reference and where it lives", () => {
    const owner = { apiVersion: 'acraccess.io/v1alpha1', kind: 'AcrAccess', name: 'web', namespace: 'a', uid: 'u1' };
    const ref = (uid: string, controller = true) => ({ ...owner, uid, controller });
    const obj = (namespace: string, refs: ReturnType<typeof ref>[]) => ({
      metadata: { namespace, ownerReferences: refs },
    });
    expect(isControlledBy(obj('a', [ref('u1')]), owner)).toBe(true);
    expect(isControlledBy(obj('b', [ref('u1')]), owner)).toBe(false);
    expect(isControlledBy(obj('a', [ref('u2')]), owner)).toBe(false);
    expect(isControlledBy(obj('a', [ref('u1', false)]), owner)).toBe(false);
    expect(isControlledBy(obj('a', [ref('u1')]), { ...owner, uid: undefined })).toBe(false);
    const cluster = { apiVersion: owner.apiVersion, kind: 'ClusterAcrAccess', name: 'web', uid: 'c1' };
    expect(isControlledBy(obj('anywhere', [ref('c1')]), cluster)).toBe(true);
    expect(controllerUid(obj('a', [ref('x', false), ref('y')]))).toBe('y');
  });

  it('shortens long names and label values with a hash, keeping them distinct', () => {
    const long = 'x'.repeat(300);
    expect(objectName(long)).toHaveLength(253);
    expect(objectName(long)).not.toBe(objectName(`${long}y`));
    expect(labelValue('short')).toBe('short');
    expect(labelValue('y'.repeat(80)).length).toBeLessThanOrEqual(63);
  });
});
