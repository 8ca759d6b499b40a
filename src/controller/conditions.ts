import type { Condition } from '../api/types.js';

export const CONDITIONS = {
  ready: 'Ready',
  reconciling: 'Reconciling',
  stalled: 'Stalled',
  endpointsResolved: 'EndpointsResolved',
  addressesResolved: 'AddressesResolved',
  policiesApplied: 'PoliciesApplied',
  degraded: 'Degraded',
  /** The Azure-side targets of spec.azure (present only for a ClusterAcrAccess that has or had them). */
  azureApplied: 'AzureApplied',
} as const;

export interface ConditionInput {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
}

/**
 * Sets conditions metav1-style: lastTransitionTime changes only when the status does, so a reconcile that finds
 * nothing new produces the very same conditions (and the status is not rewritten).
 */
export function setConditions(
  previous: Condition[] | undefined,
  next: ConditionInput[],
  generation: number,
  now: Date,
): Condition[] {
  const old = new Map((previous ?? []).map((c) => [c.type, c]));
  return next.map((c) => {
    const before = old.get(c.type);
    return {
      type: c.type,
      status: c.status,
      observedGeneration: generation,
      lastTransitionTime:
        before && before.status === c.status ? before.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      reason: c.reason,
      message: c.message,
    };
  });
}

export function conditionOf(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
