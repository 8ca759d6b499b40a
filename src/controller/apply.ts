import { isDeepStrictEqual } from 'node:util';
import { controllerUid, isControlledBy } from '../backends/ownership.js';
import type { IntentOwner } from '../intent/intent.js';
import type { KubeClient } from '../kube/client.js';
import { isConflict } from '../kube/errors.js';
import { objectKey, type KubeObject } from '../kube/types.js';

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

/** A desired object's name is taken by an object this owner does not control; it is never overwritten. */
export class NameConflictError extends Error {
  constructor(
    readonly object: string,
    readonly holder: string,
  ) {
    super(
      `${object} already exists and is not this resource's (${holder}); it is left as it is. Rename or delete it, or rename this resource`,
    );
    this.name = 'NameConflictError';
  }
}

export interface ApplyOutcome {
  applied: KubeObject[];
  deleted: KubeObject[];
  unchanged: number;
}

/**
 * Creates cluster-wide prerequisites (a Calico Tier) when absent. They belong to no resource: never updated over
 * someone's changes, never pruned.
 */
export async function ensurePrerequisites(client: KubeClient, objects: KubeObject[]): Promise<number> {
  let created = 0;
  for (const obj of objects) {
    try {
      await client.create(obj);
      created++;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
  return created;
}

/**
 * Brings the live objects in line with the desired ones. `live` is what the caller's cache holds with this owner's
 * controller reference. An object not yet in it is created (a POST fails on a taken name, so a user's object is
 * never taken over); one that is, is server-side applied with its uid, so a replaced object is not written either.
 * Objects no longer desired are deleted only when controlled by this owner, with uid and resourceVersion
 * preconditions.
 */
export async function applyAndPrune(
  client: KubeClient,
  owner: IntentOwner,
  desired: KubeObject[],
  live: KubeObject[],
  /** Called with each object as stored, as soon as it is written. */
  onWritten: (obj: KubeObject) => void = () => undefined,
): Promise<ApplyOutcome> {
  const liveByKey = new Map(live.filter((o) => isControlledBy(o, owner)).map((o) => [objectKey(o), o]));
  const outcome: ApplyOutcome = { applied: [], deleted: [], unchanged: 0 };
  for (const want of desired) {
    const have = liveByKey.get(objectKey(want));
    const written = !have
      ? await createOrAdopt(client, owner, want)
      : needsApply(want, have)
        ? await restore(client, want, await client.apply(withUid(want, have)))
        : undefined;
    if (!written) {
      outcome.unchanged++;
      continue;
    }
    onWritten(written);
    outcome.applied.push(written);
  }
  const wanted = new Set(desired.map(objectKey));
  for (const obj of liveByKey.values()) {
    if (wanted.has(objectKey(obj))) continue;
    const removed = await client.delete(
      { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name },
      { uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
    );
    if (removed) outcome.deleted.push(obj);
  }
  return outcome;
}

async function createOrAdopt(client: KubeClient, owner: IntentOwner, want: KubeObject): Promise<KubeObject> {
  try {
    return await client.create(want);
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
  const ref = {
    apiVersion: want.apiVersion,
    kind: want.kind,
    namespace: want.metadata.namespace,
    name: want.metadata.name,
  };
  const existing = await client.get(ref);
  // Ours but not in the cache yet (a watch lags a write): update it like any other.
  if (existing && isControlledBy(existing, owner))
    return restore(client, want, await client.apply(withUid(want, existing)));
  const where = `${want.kind} ${want.metadata.namespace ? `${want.metadata.namespace}/` : ''}${want.metadata.name}`;
  if (!existing) throw new Error(`${where} was deleted while being created; retrying`);
  const controller = existing.metadata.ownerReferences?.find((r) => r.controller);
  const holder = controller
    ? `controlled by ${controller.kind} ${controller.name} (uid ${controllerUid(existing)})`
    : 'not created by this operator';
  throw new NameConflictError(where, holder);
}

/**
 * Server-side apply keeps what other field managers own: an element someone added to a set-typed list (a prefix in
 * a Calico NetworkSet) or a field the operator never sets survives the operator's apply. A JSON merge patch of the
 * difference, guarded by the resourceVersion just written, makes the spec exactly the planned one.
 */
async function restore(client: KubeClient, want: KubeObject, written: KubeObject): Promise<KubeObject> {
  if (isDeepStrictEqual(written.spec, want.spec)) return written;
  return client.mergePatch(written, {
    metadata: { resourceVersion: written.metadata.resourceVersion },
    spec: mergePatchOf(written.spec, want.spec),
  });
}

/** The RFC 7386 merge patch that turns `from` into `to`: keys only in `from` become null, other values replace. */
export function mergePatchOf(from: unknown, to: unknown): unknown {
  const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(from) || !isObject(to)) return to;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) if (!(key in to)) patch[key] = null;
  for (const [key, value] of Object.entries(to))
    if (!isDeepStrictEqual(from[key], value)) patch[key] = mergePatchOf(from[key], value);
  return patch;
}

/** The uid makes the apply a precondition: if the object was replaced, the API server refuses the write. */
function withUid(want: KubeObject, live: KubeObject): KubeObject {
  return live.metadata.uid ? { ...want, metadata: { ...want.metadata, uid: live.metadata.uid } } : want;
}
