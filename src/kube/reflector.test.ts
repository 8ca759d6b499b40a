import { describe, expect, it } from 'vitest';
import { needsApply } from '../controller/apply.js';
import { intern, keepIdentity, keepOwnedFields, stripBookkeeping } from './reflector.js';
import type { KubeObject } from './types.js';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** A NetworkPolicy as the API server returns it: bookkeeping, status and server-set fields included. */
function served(): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: 'acr-access-web',
      namespace: 'team',
      uid: 'np-uid',
      resourceVersion: '42',
      generation: 3,
      creationTimestamp: '2026-11-25T10:00:00Z',
      labels: { 'app.kubernetes.io/managed-by': 'acr-access-operator' },
      annotations: { 'acraccess.io/owner': 'AcrAccess/team/web', [LAST_APPLIED]: '{"huge":"copy"}' },
      ownerReferences: [
        { apiVersion: 'acraccess.io/v1alpha1', kind: 'AcrAccess', name: 'web', uid: 'u1', controller: true },
      ],
      managedFields: [{ manager: 'acr-access-operator', operation: 'Apply', fieldsV1: { 'f:spec': {} } }],
    },
    spec: { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] },
    status: { conditions: [] },
  };
}

describe('cache transforms', () => {
  it('stripBookkeeping drops managedFields and the last-applied annotation, and nothing else', () => {
    const obj = stripBookkeeping(served());
    const expected = served();
    delete expected.metadata.managedFields;
    delete expected.metadata.annotations![LAST_APPLIED];
    expect(obj).toEqual(expected);
    const onlyLastApplied = served();
    onlyLastApplied.metadata.annotations = { [LAST_APPLIED]: '{}' };
    expect(stripBookkeeping(onlyLastApplied).metadata.annotations).toBeUndefined();
  });

  it('keepOwnedFields keeps what the operator compares, indexes and deletes by, and drops the rest', () => {
    const obj = keepOwnedFields(served());
    expect(obj).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: 'acr-access-web',
        namespace: 'team',
        uid: 'np-uid',
        resourceVersion: '42',
        labels: { 'app.kubernetes.io/managed-by': 'acr-access-operator' },
        annotations: { 'acraccess.io/owner': 'AcrAccess/team/web' },
        ownerReferences: served().metadata.ownerReferences,
      },
      spec: served().spec,
    });
  });

  it('a trimmed live object still compares equal to the desired one, and a changed one still differs', () => {
    const desired: KubeObject = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: 'acr-access-web',
        namespace: 'team',
        labels: { 'app.kubernetes.io/managed-by': 'acr-access-operator' },
        annotations: { 'acraccess.io/owner': 'AcrAccess/team/web' },
        ownerReferences: served().metadata.ownerReferences,
      },
      spec: served().spec,
    };
    expect(needsApply(desired, keepOwnedFields(served()))).toBe(false);
    const edited = served();
    (edited.spec as { egress: unknown[] }).egress = [];
    expect(needsApply(desired, keepOwnedFields(edited))).toBe(true);
    const relabelled = served();
    relabelled.metadata.labels = {};
    expect(needsApply(desired, keepOwnedFields(relabelled))).toBe(true);
  });

  it('keepIdentity keeps name, labels, version and deletion only', () => {
    const ns: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'team',
        uid: 'ns-uid',
        resourceVersion: '7',
        labels: { 'kubernetes.io/metadata.name': 'team' },
        deletionTimestamp: '2026-11-25T10:00:00Z',
        annotations: { [LAST_APPLIED]: '{}' },
        managedFields: [],
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Terminating' },
    };
    expect(keepIdentity(ns)).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'team',
        uid: 'ns-uid',
        resourceVersion: '7',
        labels: { 'kubernetes.io/metadata.name': 'team' },
        deletionTimestamp: '2026-11-25T10:00:00Z',
      },
    });
  });

  it('intern keeps every value as it was, in place, long strings included', () => {
    type Doc = { to: { ipBlock: { cidr: string } }[]; n: number; long: string; nested: string[][] };
    const text = JSON.stringify({
      to: [{ ipBlock: { cidr: '10.0.0.0/8' } }, { ipBlock: { cidr: '10.0.0.0/8' } }],
      n: 1,
      long: 'x'.repeat(80),
      nested: [['a', 'b'], []],
    });
    const doc = JSON.parse(text) as Doc;
    const to = doc.to;
    expect(intern(doc)).toBe(doc);
    expect(doc.to).toBe(to);
    expect(JSON.stringify(doc)).toBe(text);
  });
});
