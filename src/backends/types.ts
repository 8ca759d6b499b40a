import type { BackendName } from '../api/types.js';
import type { EgressIntent, Plane } from '../intent/intent.js';
import type { KubeObject } from '../kube/types.js';

/** A kind a backend writes, with whether it lives in a namespace (cluster-scoped kinds are written once). */
export interface BackendKind {
  apiVersion: string;
  kind: string;
  namespaced: boolean;
  /** Written only as a shared prerequisite (never owned): not watched, never pruned. */
  prerequisite?: boolean;
}

/** What the API server serves, as far as a backend needs to know (backed by discovery). */
export interface ServedKinds {
  serves(apiVersion: string, kind: string): Promise<boolean>;
  /**
   * Whether the served schema of a kind has a field (OpenAPI v3): true/false when known, undefined when the API
   * server publishes no schema. Discovery cannot tell versions of a CRD apart; a pruned field can change meaning.
   */
  hasField?(apiVersion: string, kind: string, path: readonly string[]): Promise<boolean | undefined>;
}

/** Whether a backend can be used in this cluster, why (or why not), and the kinds (versions) it will write. */
export interface Detection {
  served: boolean;
  reason: string;
  kinds: BackendKind[];
}

export interface PlanOptions {
  /** Largest list of prefixes one object may carry, in bytes of JSON. etcd refuses objects over 1.5 MiB. */
  maxBytesPerObject?: number;
}

/**
 * One enforcement point in Kubernetes objects. `detect` asks discovery (re-checked periodically); `plan` is pure:
 * an intent in, the complete desired objects out, byte-identical for the same input — `render` prints them and the
 * operator writes them. Applying and pruning is shared by every such backend (controller/apply.ts), keyed by
 * apiVersion/kind (Calico's kind is also `NetworkPolicy`).
 */
export interface KubernetesBackend {
  readonly name: Exclude<BackendName, 'Auto'>;
  /** Planes it can govern; a plane it lacks is never planned for. */
  readonly planes: readonly Plane[];
  /** Every kind it may write, any version: for informers and RBAC. */
  readonly kinds: readonly BackendKind[];
  detect(served: ServedKinds): Promise<Detection>;
  plan(intent: EgressIntent, detection: Detection, opts?: PlanOptions): KubeObject[];
  /**
   * Cluster-wide objects the backend needs before any policy (Calico's Tier): created when absent, never owned by
   * a resource, never pruned. Pure, like plan.
   */
  prerequisites?(detection: Detection): KubeObject[];
}
