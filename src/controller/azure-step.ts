/**
 * The reconciler's Azure step for a ClusterAcrAccess with spec.azure, and its finalizer: the Kubernetes objects of
 * a resource go with it by garbage collection, Azure rules do not, so a resource that has written any holds
 * `acraccess.io/azure-cleanup` until they are released. When Azure is gone for good (subscription deleted, identity
 * removed) the annotation `acraccess.io/skip-azure-cleanup: "true"` lets the deletion finish without cleanup.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AcrAccessStatus, AzureLedger, AzureTargetStatus, ClusterAcrAccess } from '../api/types.js';
import type { AddressSet } from '../addresses/address-set.js';
import {
  hasAzureTargets,
  ledgerIsEmpty,
  type AzureEnforcer,
  type AzureSyncResult,
} from '../backends/azure/enforcer.js';
import { ipv4Key, ruleValue } from '../backends/registry-firewall/plan.js';
import { azureIntent, ownerOf } from '../intent/intent.js';
import type { KubeClient } from '../kube/client.js';
import { CONDITIONS, conditionOf, setConditions } from './conditions.js';
import type { EventRecorder } from './events.js';
import { nextExpiry, retainHosts } from './retention.js';

export const AZURE_FINALIZER = 'acraccess.io/azure-cleanup';
export const SKIP_CLEANUP_ANNOTATION = 'acraccess.io/skip-azure-cleanup';

export interface AzureOutcome {
  targets: AzureTargetStatus[];
  ledger: AzureLedger;
  /** Tags allowed now (retiring included): the next ledger entry. */
  tags: string[];
  retiringTags: { tag: string; since: string; until: string }[];
  /** Egress addresses no longer found that stay in the registry firewall for the grace period. */
  retiringEgressIPs: { address: string; since: string; until: string }[];
  /** The first failure, for the AzureApplied and Degraded conditions; undefined when every target is fine. */
  problem?: { reason: string; message: string };
  /** Writes still running in Azure (not a failure: AzureApplied is False until they finish, Degraded is not set). */
  pending?: { reason: string; message: string };
  audit: boolean;
  retryAfterMs?: number;
}

/** Whether the Azure step has anything to do for this resource: targets in the spec, or rules of ours to release. */
export function needsAzureStep(resource: ClusterAcrAccess): boolean {
  return hasAzureTargets(resource.spec.azure) || !ledgerIsEmpty(resource.status?.applied?.azure);
}

export async function runAzureStep(
  enforcer: AzureEnforcer,
  client: KubeClient,
  resource: ClusterAcrAccess,
  input: { hosts: string[]; addresses: AddressSet & { ipv4: string[]; ipv6: string[] }; now: Date; graceMs: number },
): Promise<AzureOutcome> {
  const { addresses, now } = input;
  // A tag that stops being desired (a replica dropped) stays allowed for the grace period, like a prefix or host.
  const tags = retainHosts({
    desired: addresses.tags.map((t) => t.name),
    applied: resource.status?.applied?.tags ?? [],
    retiring: (resource.status?.azure?.retiringTags ?? []).map((r) => ({
      host: r.tag,
      since: r.since,
      until: r.until,
    })),
    now,
    graceMs: input.graceMs,
  });
  const known = new Map(addresses.tags.map((t) => [t.name, t]));
  const tagList = tags.effective.map((name) => known.get(name) ?? { name, changeNumber: 0, prefixes: 0 });
  const audit = resource.spec.mode === 'Audit';
  if (!audit && hasAzureTargets(resource.spec.azure)) await ensureFinalizer(client, resource);
  const intent = azureIntent(resource, input.hosts, addresses, tagList);
  const before = resource.status?.applied?.azure ?? {};
  let retiringEgress: { host: string; since: string; until: string }[] = [];
  const registryId = resource.spec.registry.resourceId;
  const r = await enforcer.sync(intent, resource.spec.azure, before, audit ? 'Audit' : 'Enforce', {
    ...(registryId ? { registryId } : {}),
    // An egress IP the cluster stopped using (an outbound IP replaced) stays allowed for the grace period.
    retainEgress: (current) => {
      // One spelling for both sides (a bare address, as the rule is written), so 1.2.3.4/32 is not "leaving".
      const canonical = (v: string) => ruleValue(ipv4Key(v) ?? v);
      const kept = retainHosts({
        desired: current.map(canonical),
        applied: (before.registryIpRules?.flatMap((e) => e.values ?? []) ?? []).map(canonical),
        retiring: (resource.status?.azure?.retiringEgressIPs ?? []).map((r) => ({ ...r, host: r.address })),
        now,
        graceMs: input.graceMs,
      });
      retiringEgress = kept.retiring;
      return kept.effective;
    },
  });
  const failure = r.failures[0];
  const pending = r.targets.filter((t) => t.state === 'Pending');
  return {
    targets: r.targets,
    ledger: r.ledger,
    tags: tags.effective,
    retiringTags: tags.retiring.map((t) => ({ tag: t.host, since: t.since, until: t.until })),
    retiringEgressIPs: retiringEgress.map((t) => ({ address: t.host, since: t.since, until: t.until })),
    audit,
    ...(failure
      ? {
          problem: {
            reason: `Azure${failure.kind}`,
            message: `${r.failures.length} Azure target(s) failed, what is in force there stays: ${r.failures.map((f) => f.message).join('; ')}`,
          },
        }
      : {}),
    ...(pending.length
      ? {
          pending: {
            reason: 'WriteInProgress',
            message: `a write is still running in Azure for ${pending.map((t) => `${t.kind} ${t.resourceId}`).join(', ')}; looked at again shortly`,
          },
        }
      : {}),
    ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
  };
}

/**
 * The Azure step of one reconcile: sync, a Warning Event once per new problem (the condition carries it meanwhile),
 * and when to look again (a write still running, a failure, the next tag or egress IP to retire).
 */
export async function reconcileAzure(
  deps: { enforcer: AzureEnforcer; client: KubeClient; recorder: EventRecorder },
  resource: ClusterAcrAccess,
  input: Parameters<typeof runAzureStep>[3],
): Promise<{ outcome: AzureOutcome; wakeAfterMs?: number }> {
  const outcome = await runAzureStep(deps.enforcer, deps.client, resource, input);
  const before = conditionOf(resource.status?.conditions, CONDITIONS.azureApplied);
  if (outcome.problem && before?.message !== outcome.problem.message)
    await deps.recorder.record(ownerOf(resource), 'Warning', outcome.problem.reason, outcome.problem.message);
  const expiry = nextExpiry([...outcome.retiringTags, ...outcome.retiringEgressIPs]);
  const waits = [outcome.retryAfterMs, expiry === undefined ? undefined : expiry - input.now.getTime() + 1000].filter(
    (x): x is number => x !== undefined,
  );
  return { outcome, ...(waits.length ? { wakeAfterMs: Math.max(1000, Math.min(...waits)) } : {}) };
}

export function hasFinalizer(resource: ClusterAcrAccess): boolean {
  return resource.metadata.finalizers?.includes(AZURE_FINALIZER) ?? false;
}

/** Adds the finalizer before the first Azure write; conditional on the resourceVersion read, like any controller. */
export async function ensureFinalizer(client: KubeClient, resource: ClusterAcrAccess): Promise<void> {
  if (hasFinalizer(resource)) return;
  await client.mergePatch(resource, {
    metadata: {
      finalizers: [...(resource.metadata.finalizers ?? []), AZURE_FINALIZER],
      resourceVersion: resource.metadata.resourceVersion,
    },
  });
}

export async function dropFinalizer(client: KubeClient, resource: ClusterAcrAccess): Promise<void> {
  if (!hasFinalizer(resource)) return;
  await client.mergePatch(resource, {
    metadata: {
      finalizers: (resource.metadata.finalizers ?? []).filter((f) => f !== AZURE_FINALIZER),
      resourceVersion: resource.metadata.resourceVersion,
    },
  });
}

export function skipsCleanup(resource: ClusterAcrAccess): boolean {
  return resource.metadata.annotations?.[SKIP_CLEANUP_ANNOTATION] === 'true';
}

export interface FinalizeDeps {
  client: KubeClient;
  recorder: EventRecorder;
  azure?: AzureEnforcer;
  now: Date;
}

/** How often a deletion that cannot release its Azure rules yet is tried again. */
const CLEANUP_RETRY_MS = 60_000;

/**
 * A ClusterAcrAccess being deleted: release its Azure rules (exactly the ledger's), then let it go. A failure keeps
 * the finalizer and says why (status, Event) rather than leaving rules nobody owns; the annotation is the way out.
 */
export async function finalize(resource: ClusterAcrAccess, deps: FinalizeDeps): Promise<{ requeueAfterMs?: number }> {
  if (!hasFinalizer(resource)) return {};
  const regarding = ownerOf(resource);
  const ledger = resource.status?.applied?.azure ?? {};
  if (skipsCleanup(resource)) {
    await deps.recorder.record(
      regarding,
      'Warning',
      'AzureCleanupSkipped',
      `${SKIP_CLEANUP_ANNOTATION} is set: Azure rules are left in place: ${describeLedger(ledger)}`,
    );
    await dropFinalizer(deps.client, resource);
    return {};
  }
  const failed = (message: string) => ({ reason: 'AzureCleanupFailed', message });
  let problem: { reason: string; message: string } | undefined;
  let result: AzureSyncResult | undefined;
  if (!deps.azure) {
    problem = failed(
      `the operator runs without Azure Resource Manager (--azure-subscription), so it cannot remove ${describeLedger(ledger)}; run it with Azure access, or set the annotation ${SKIP_CLEANUP_ANNOTATION}: "true" to leave them`,
    );
  } else {
    result = await deps.azure.release(ownerOf(resource), resource.spec.azure, ledger);
    if (result.failures.length || !ledgerIsEmpty(result.ledger)) {
      const why = result.failures.map((f) => f.message).join('; ') || 'a removal is still running in Azure';
      problem = failed(
        `Azure rules not yet removed (${describeLedger(result.ledger)}): ${why}; retrying; set the annotation ${SKIP_CLEANUP_ANNOTATION}: "true" to leave them`,
      );
    }
  }
  if (!problem) {
    await dropFinalizer(deps.client, resource);
    return {};
  }
  const before = conditionOf(resource.status?.conditions, CONDITIONS.azureApplied);
  if (before?.message !== problem.message)
    await deps.recorder.record(regarding, 'Warning', problem.reason, problem.message);
  const previous = resource.status ?? {};
  const status: AcrAccessStatus = {
    ...previous,
    conditions: setConditions(
      previous.conditions,
      [{ type: CONDITIONS.azureApplied, status: 'False', ...problem }],
      resource.metadata.generation ?? 0,
      deps.now,
    ),
    ...(result ? { applied: { ...previous.applied, azure: result.ledger } } : {}),
    ...(result ? { azure: { ...previous.azure, targets: result.targets } } : {}),
  };
  if (!isDeepStrictEqual(status, resource.status)) {
    await deps.client.applyStatus({
      apiVersion: resource.apiVersion,
      kind: resource.kind,
      metadata: { name: resource.metadata.name },
      status,
    });
  }
  return { requeueAfterMs: result?.retryAfterMs ?? CLEANUP_RETRY_MS };
}

function describeLedger(ledger: AzureLedger): string {
  const parts = [
    ...(ledger.networkSecurityGroups ?? []).map((id) => `rules in NSG ${id}`),
    ...(ledger.ruleCollectionGroups ?? []).map((id) => `rule collection group ${id}`),
    ...(ledger.registryIpRules ?? [])
      .filter((r) => r.values?.length)
      .map((r) => `IP rules ${r.values!.join(', ')} of registry ${r.registryId}`),
  ];
  return parts.join(', ') || 'nothing';
}
