import { createHash } from 'node:crypto';
import type { IntentOwner } from '../intent/intent.js';
import type { OwnerReference } from '../kube/types.js';

export const MANAGED_BY = 'acr-access-operator';
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  ownerKind: 'acraccess.io/owner-kind',
  ownerName: 'acraccess.io/owner-name',
  ownerNamespace: 'acraccess.io/owner-namespace',
} as const;
export const ANNOTATIONS = {
  owner: 'acraccess.io/owner',
  changeNumber: 'acraccess.io/service-tags-change-number',
  hosts: 'acraccess.io/hosts',
  shard: 'acraccess.io/shard',
} as const;

/** Labels that mark an object as this owner's; also the selector used to find what to prune. */
export function ownerLabels(owner: IntentOwner): Record<string, string> {
  const labels: Record<string, string> = {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.ownerKind]: owner.kind,
    [LABELS.ownerName]: labelValue(owner.name),
  };
  if (owner.namespace) labels[LABELS.ownerNamespace] = owner.namespace;
  return labels;
}

export function ownerSelector(owner: IntentOwner): string {
  return Object.entries(ownerLabels(owner))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The controller reference of a same-namespace child, when the owner's uid is known. */
export function ownerReference(owner: IntentOwner): OwnerReference | undefined {
  if (!owner.uid) return undefined;
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function ownerId(owner: IntentOwner): string {
  return [owner.kind, owner.namespace, owner.name].filter(Boolean).join('/');
}

/** Label values stop at 63 characters; longer names keep a readable start and a hash of the whole. */
export function labelValue(value: string): string {
  if (value.length <= 63) return value;
  return `${value.slice(0, 52).replace(/[-.]+$/, '')}-${hash(value)}`;
}

/** Object names stop at `max` characters, shortened the same way. */
export function objectName(base: string, max = 253): string {
  if (base.length <= max) return base;
  return `${base.slice(0, max - 11).replace(/[-.]+$/, '')}-${hash(base)}`;
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 10);
}

/** The uid of an object's controller reference, if any. */
export function controllerUid(obj: { metadata: { ownerReferences?: OwnerReference[] } }): string | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller)?.uid;
}

/**
 * Whether a live object is the given owner's: its controller reference names the owner's uid, and it lives where the
 * owner may write (an AcrAccess only in its own namespace). Labels and annotations are never evidence: any writer
 * of the namespace controls them.
 */
export function isControlledBy(
  obj: { metadata: { namespace?: string; ownerReferences?: OwnerReference[] } },
  owner: IntentOwner,
): boolean {
  if (!owner.uid || controllerUid(obj) !== owner.uid) return false;
  return !owner.namespace || obj.metadata.namespace === owner.namespace;
}
