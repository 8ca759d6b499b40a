/**
 * Creates, updates or deletes one rule collection group (`firewallPolicyRuleCollectionGroups`), never another:
 * other groups of the policy are never read into a request. Read, compare, and PUT only when different, with
 * If-Match on the ETag read (If-None-Match: * to create); a 412 means someone wrote the group meanwhile: read again.
 *
 * A rule collection group has no labels, so whether it is ours is the status ledger's word (`owned`): a group of
 * that name that exists, differs from ours and is not in the ledger is someone else's and is refused
 * (NameConflict), as a taken Kubernetes name is. One that already matches is adopted: our create succeeded but the
 * status recording it was lost.
 */
import type { FirewallPolicyRuleCollectionGroup } from '@azure/arm-network';
import type { ArmClients } from '../../azure/clients.js';
import {
  ArmWriteError,
  armStatus,
  classifyArmWriteError,
  ifMatch,
  ifNoneMatch,
  parseArmResourceId,
  settle,
  type ArmResourceId,
} from '../../azure/arm-write.js';
import { armObjectLocks, type KeyedMutex } from '../../azure/keyed-mutex.js';
import type { RcgPlan } from './plan.js';

export interface RcgSyncOptions {
  /** Whether the ledger records this group as ours (we created or adopted it). */
  owned: boolean;
  mode?: 'Enforce' | 'Audit';
  lroDeadlineMs?: number;
  pollIntervalMs?: number;
  maxConflicts?: number;
  locks?: KeyedMutex;
}

export interface RcgSyncResult {
  /** The group's ARM id, for status refs and the ledger. */
  armId: string;
  written: number;
  /** Whether the group is now ours (record it in the ledger when true). */
  owned: boolean;
  pending: boolean;
  retryAfterMs?: number;
}

const DEFAULTS = { lroDeadlineMs: 60_000, pollIntervalMs: 5_000, maxConflicts: 5 };
/** Firewall policy updates take minutes in Azure: look again after this much when we stop waiting. */
const PENDING_RETRY_MS = 30_000;

type Network = Pick<ArmClients, 'network'>;

export async function syncRuleCollectionGroup(
  clients: Network,
  plan: RcgPlan,
  opts: RcgSyncOptions,
): Promise<RcgSyncResult> {
  const policy = policyId(plan.policyId);
  const o = { ...DEFAULTS, ...opts };
  const armId = `${policy.id}/ruleCollectionGroups/${plan.name}`;
  // One writer per policy: ARM serialises a policy's group writes and refuses a second one meanwhile.
  return (opts.locks ?? armObjectLocks).run(policy.id, async () => {
    const groups = clients.network(policy.subscriptionId).firewallPolicyRuleCollectionGroups;
    let written = 0;
    let conflicts = 0;
    for (;;) {
      const live = await readGroup(clients, policy, plan.name);
      const same = live !== undefined && canonical(live) === canonical(plan.group);
      if (live && !opts.owned && !same) {
        throw new ArmWriteError(
          'NameConflict',
          `rule collection group ${plan.name} of firewall policy ${policy.name} exists and is not this resource's; rename spec.azure.firewallPolicy.ruleCollectionGroup or remove that group`,
          409,
        );
      }
      const done = (pending: boolean, extra = 0): RcgSyncResult => ({
        armId,
        written: written + extra,
        owned: live !== undefined || written > 0,
        pending,
        ...(pending ? { retryAfterMs: PENDING_RETRY_MS } : {}),
      });
      if (same && isProvisioning(live)) return done(true);
      if (same) return done(false);
      if (opts.mode === 'Audit') return { ...done(false, 1), owned: opts.owned };
      const cond = live?.etag ? ifMatch(live.etag) : ifNoneMatch();
      try {
        const settled = await settle(
          (abortSignal) =>
            groups.createOrUpdate(policy.resourceGroup, policy.name, plan.name, plan.group, {
              abortSignal,
              updateIntervalInMs: o.pollIntervalMs,
              ...cond,
            }),
          o.lroDeadlineMs,
        );
        written++;
        if (!settled.done) return { ...done(true), owned: true };
      } catch (err) {
        if (armStatus(err).status !== 412) throw classifyArmWriteError(err, `PUT rule collection group ${plan.name}`);
        if (++conflicts > o.maxConflicts) {
          throw new ArmWriteError('Conflict', `rule collection group ${plan.name} kept changing under us`, 412);
        }
      }
    }
  });
}

/** Deletes our group (only when the ledger says it is ours); a group already gone is fine. */
export async function releaseRuleCollectionGroup(
  clients: Network,
  target: { policyId: string; name: string },
  opts: Omit<RcgSyncOptions, 'mode'>,
): Promise<{ written: number; pending: boolean }> {
  if (!opts.owned) return { written: 0, pending: false };
  const policy = policyId(target.policyId);
  const o = { ...DEFAULTS, ...opts };
  return (opts.locks ?? armObjectLocks).run(policy.id, async () => {
    const groups = clients.network(policy.subscriptionId).firewallPolicyRuleCollectionGroups;
    let conflicts = 0;
    for (;;) {
      const live = await readGroup(clients, policy, target.name);
      if (!live) return { written: 0, pending: false };
      try {
        const settled = await settle(
          (abortSignal) =>
            groups.delete(policy.resourceGroup, policy.name, target.name, {
              abortSignal,
              updateIntervalInMs: o.pollIntervalMs,
              ...(live.etag ? ifMatch(live.etag) : {}),
            }),
          o.lroDeadlineMs,
        );
        return { written: 1, pending: !settled.done };
      } catch (err) {
        if (armStatus(err).status !== 412)
          throw classifyArmWriteError(err, `DELETE rule collection group ${target.name}`);
        if (++conflicts > o.maxConflicts)
          throw new ArmWriteError('Conflict', `group ${target.name} kept changing`, 412);
      }
    }
  });
}

async function readGroup(
  clients: Network,
  policy: ArmResourceId,
  name: string,
): Promise<FirewallPolicyRuleCollectionGroup | undefined> {
  try {
    return await clients
      .network(policy.subscriptionId)
      .firewallPolicyRuleCollectionGroups.get(policy.resourceGroup, policy.name, name);
  } catch (err) {
    const { status, code } = armStatus(err);
    // The group is absent (create it); a policy that is absent is the spec's problem (NotFound).
    if (status === 404 && code !== 'ParentResourceNotFound') return undefined;
    throw classifyArmWriteError(err, `GET rule collection group ${name} of firewall policy ${policy.name}`);
  }
}

function isProvisioning(g: FirewallPolicyRuleCollectionGroup | undefined): boolean {
  return !!g?.provisioningState && g.provisioningState.toLowerCase() !== 'succeeded';
}

/**
 * What the group says, without read-only fields (id, etag, size, provisioningState) and without empty values ARM
 * fills in (`fqdnTags: []`, `terminateTLS: false`): keys sorted, so live and desired compare as strings. Lists of
 * addresses and hosts are sets to the firewall, so they are sorted too; rule collections by name.
 */
export function canonical(g: FirewallPolicyRuleCollectionGroup): string {
  const clean = (v: unknown, key = ''): unknown => {
    if (Array.isArray(v)) {
      const items = v.map((x) => clean(x)).filter((x) => x !== undefined);
      if (!items.length) return undefined;
      const sortable = items.every((x) => typeof x === 'string') || key === 'ruleCollections' || key === 'rules';
      return sortable ? items.sort((a, b) => sortKey(a).localeCompare(sortKey(b))) : items;
    }
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        const x = clean((v as Record<string, unknown>)[k], k);
        if (x !== undefined) out[k] = x;
      }
      return Object.keys(out).length ? out : undefined;
    }
    return v === null || v === false || v === '' ? undefined : v;
  };
  return JSON.stringify(clean({ priority: g.priority, ruleCollections: g.ruleCollections }));
}

const sortKey = (x: unknown): string => {
  if (typeof x === 'string') return x;
  const name = (x as { name?: unknown }).name;
  return typeof name === 'string' ? name : '';
};

function policyId(resourceId: string): ArmResourceId {
  const id = parseArmResourceId(resourceId, 'Microsoft.Network', 'firewallPolicies');
  if (!id) throw new ArmWriteError('Rejected', `${resourceId} is not a firewall policy id`);
  return id;
}
