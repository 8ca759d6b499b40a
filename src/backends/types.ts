import type { EgressIntent } from '../intent/intent.js';
import type { KubeObject } from '../kube/types.js';

/**
 * One enforcement point. Planning is pure (intent in, desired objects out) and tested without a cluster; applying
 * and pruning the planned objects is shared by every Kubernetes-object backend.
 */
export interface KubernetesBackend {
  readonly name: string;
  /** The kinds this backend writes, for discovery ("is it served here?") and for pruning. */
  readonly kinds: { apiVersion: string; kind: string }[];
  plan(intent: EgressIntent): KubeObject[];
}
