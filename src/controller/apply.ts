import { isDeepStrictEqual } from 'node:util';
import { LABELS, MANAGED_BY } from '../backends/ownership.js';
import type { IntentOwner } from '../intent/intent.js';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/types.js';

/**
 * Whether the live object differs from the desired one in anything this operator owns: the spec, its labels and
 * annotations, its owner references. Fields others added are not a difference.
 */
export function needsApply(desired: KubeObject, live: KubeObject | undefined): boolean {
  if (!live) return true;
  if (!isDeepStrictEqual(desired.spec, live.spec)) return true;
  for (const field of ['labels', 'annotations'] as const) {
    const want = desired.metadata[field] ?? {};
    const have = live.metadata[field] ?? {};
    for (const [k, v] of Object.entries(want)) if (have[k] !== v) return true;
  }
  for (const ref of desired.metadata.ownerReferences ?? []) {
    const match = live.metadata.ownerReferences?.find((r) => r.uid === ref.uid);
    if (!match || !isDeepStrictEqual({ ...ref }, { ...match })) return true;
  }
  return false;
}

/** Is this live object really the given owner's: managed-by and owner labels, and a matching controller reference? */
export function isOwnedBy(live: KubeObject, owner: IntentOwner): boolean {
  const labels = live.metadata.labels ?? {};
  if (labels[LABELS.managedBy] !== MANAGED_BY || labels[LABELS.ownerKind] !== owner.kind) return false;
  if (owner.namespace && labels[LABELS.ownerNamespace] !== owner.namespace) return false;
  const refs = live.metadata.ownerReferences ?? [];
  const controller = refs.find((r) => r.controller);
  if (controller && owner.uid && controller.uid !== owner.uid) return false;
  return true;
}

export interface ApplyOutcome {
  applied: KubeObject[];
  deleted: KubeObject[];
  unchanged: number;
}

/**
 * Brings the live objects in line with the desired ones: server-side apply of what differs, deletion (with uid
 * and resourceVersion preconditions) of owned objects no longer desired. `live` is what the caller's cache holds
 * for this owner.
 */
export async function applyAndPrune(
  client: KubeClient,
  owner: IntentOwner,
  desired: KubeObject[],
  live: KubeObject[],
): Promise<ApplyOutcome> {
  const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const liveByKey = new Map(live.map((o) => [key(o), o]));
  const outcome: ApplyOutcome = { applied: [], deleted: [], unchanged: 0 };
  for (const want of desired) {
    if (needsApply(want, liveByKey.get(key(want)))) outcome.applied.push(await client.apply(want));
    else outcome.unchanged++;
  }
  const wanted = new Set(desired.map(key));
  for (const obj of live) {
    if (wanted.has(key(obj)) || !isOwnedBy(obj, owner)) continue;
    const removed = await client.delete(
      { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name },
      { uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
    );
    if (removed) outcome.deleted.push(obj);
  }
  return outcome;
}
