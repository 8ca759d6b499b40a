/** The shape every Kubernetes object shares; bodies stay plain JSON so comparisons with live objects are exact. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
  finalizers?: string[];
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ObjectList<T extends KubeObject = KubeObject> {
  items: T[];
  resourceVersion: string;
}

export function refOf(obj: KubeObject): ObjectRef {
  const ref: ObjectRef = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name };
  if (obj.metadata.namespace) ref.namespace = obj.metadata.namespace;
  return ref;
}

export function keyOf(ref: { name: string; namespace?: string | undefined }): string {
  return ref.namespace ? `${ref.namespace}/${ref.name}` : ref.name;
}

/**
 * Identity of an object across versions and kinds that share a name: group, kind, namespace and name. Calico's
 * NetworkPolicy is not Kubernetes', and the same CiliumCIDRGroup served as v2 and v2alpha1 is one object.
 */
export function objectKey(o: {
  apiVersion: string;
  kind: string;
  metadata: { namespace?: string; name: string };
}): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return `${group}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
