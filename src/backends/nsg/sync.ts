/**
 * Applies an NsgPlan to the live NSG, one security rule at a time (`securityRules.createOrUpdate` / `delete`).
 *
 * Why per rule and not the whole NSG: a PUT of the NSG re-sends every rule, so a rule another writer added after
 * our read is lost unless ARM enforces If-Match, and the SDK serialises only the fields it knows, so a foreign
 * rule's newer fields would be dropped too. A per-rule PUT or DELETE carries our rule alone: foreign rules are
 * never in a request body, which is what "preserved byte for byte" takes. ARM serialises writes per NSG and every
 * rule shows the NSG's ETag, so each write is conditional (If-Match: the ETag read; If-None-Match: * to create),
 * and a 412 or a priority taken meanwhile (400 SecurityRuleConflict) means: read again and plan again.
 *
 * Each pass is one GET and at most one write; a steady state is one GET and no write.
 */
import type { SecurityRule } from '@azure/arm-network';
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
import type { IntentOwner } from '../../intent/intent.js';
import { NsgPriorityExhausted, nsgChanges, securityRuleBody, type NsgChanges } from './changes.js';
import { nsgRulePrefix, type NsgPlan } from './plan.js';

export interface NsgSyncOptions {
  /** Audit: read and report what would be written, write nothing. */
  mode?: 'Enforce' | 'Audit';
  /** How long one write's LRO is polled before the worker gives up waiting (the write goes on in Azure). */
  lroDeadlineMs?: number;
  /** Poll interval when ARM sends no Retry-After. */
  pollIntervalMs?: number;
  /** Re-reads after 412 / priority races before giving up as Conflict. */
  maxConflicts?: number;
  locks?: KeyedMutex;
}

export interface NsgSyncResult {
  resourceId: string;
  /** Write requests made (PUT and DELETE); in Audit, those that would be made. */
  written: number;
  /** Our rules as ARM ids: for status.backends[].refs and the ledger. */
  refs: { armId: string }[];
  /** Each desired rule and the priority it holds. */
  applied: { name: string; priority: number; destination: string }[];
  /** A write was still running at the deadline, or ARM was still provisioning our rule: sync again later. */
  pending: boolean;
  retryAfterMs?: number;
  warnings: string[];
}

const DEFAULTS = { lroDeadlineMs: 20_000, pollIntervalMs: 2_000, maxConflicts: 5 };
/** When to look again at a rule ARM is still provisioning. */
const PENDING_RETRY_MS = 10_000;

type Network = Pick<ArmClients, 'network'>;

export async function syncNsgRules(clients: Network, plan: NsgPlan, opts: NsgSyncOptions = {}): Promise<NsgSyncResult> {
  const id = nsgId(plan.resourceId);
  const o = { ...DEFAULTS, ...opts };
  return (opts.locks ?? armObjectLocks).run(id.id, async () => {
    const rules = clients.network(id.subscriptionId).securityRules;
    let written = 0;
    let conflicts = 0;
    for (;;) {
      const live = await readRules(clients, id);
      let changes: NsgChanges;
      try {
        changes = nsgChanges(live, plan);
      } catch (err) {
        if (err instanceof NsgPriorityExhausted) throw new ArmWriteError('Rejected', err.message);
        throw err;
      }
      const result = (pending: boolean, extra = 0): NsgSyncResult => ({
        resourceId: plan.resourceId,
        written: written + extra,
        refs: changes.applied.map((a) => ({ armId: `${id.id}/securityRules/${a.name}` })),
        applied: changes.applied,
        pending,
        ...(pending ? { retryAfterMs: PENDING_RETRY_MS } : {}),
        warnings: changes.warnings,
      });
      if (opts.mode === 'Audit') return result(false, changes.puts.length + changes.deletes.length);
      // ARM is still applying an earlier write of ours (e.g. one whose LRO outlived our deadline): wait for it.
      if (changes.provisioning.length) return result(true);
      const put = changes.puts[0];
      const del = put ? undefined : changes.deletes[0];
      if (!put && !del) return result(false);
      const what = put
        ? `PUT security rule ${put.rule.name} of NSG ${id.name}`
        : `DELETE security rule ${del!.name} of NSG ${id.name}`;
      try {
        const common = { updateIntervalInMs: o.pollIntervalMs };
        const settled = put
          ? await settle(
              (abortSignal) =>
                rules.createOrUpdate(id.resourceGroup, id.name, put.rule.name, securityRuleBody(put), {
                  ...common,
                  abortSignal,
                  ...(put.etag ? ifMatch(put.etag) : ifNoneMatch()),
                }),
              o.lroDeadlineMs,
            )
          : await settle(
              (abortSignal) =>
                rules.delete(id.resourceGroup, id.name, del!.name, {
                  ...common,
                  abortSignal,
                  ...(del!.etag ? ifMatch(del!.etag) : {}),
                }),
              o.lroDeadlineMs,
            );
        written++;
        if (!settled.done) return result(true);
      } catch (err) {
        if (!isRace(err)) throw classifyArmWriteError(err, what);
        // Someone changed the NSG between our read and our write: read it again, keep what they wrote.
        if (++conflicts > o.maxConflicts) {
          throw new ArmWriteError('Conflict', `${what}: the NSG kept changing (${conflicts} conflicting writes)`);
        }
      }
    }
  });
}

/** Deletes exactly this owner's rules (the ones under its prefix) from the NSG. Finalizer work. */
export async function releaseNsgRules(
  clients: Network,
  owner: IntentOwner,
  resourceId: string,
  opts: NsgSyncOptions = {},
): Promise<NsgSyncResult> {
  const plan: NsgPlan = { resourceId, prefix: nsgRulePrefix(owner), basePriority: 100, rules: [] };
  return syncNsgRules(clients, plan, opts);
}

async function readRules(clients: Network, id: ArmResourceId): Promise<SecurityRule[]> {
  try {
    const nsg = await clients.network(id.subscriptionId).networkSecurityGroups.get(id.resourceGroup, id.name);
    return nsg.securityRules ?? [];
  } catch (err) {
    throw classifyArmWriteError(err, `GET NSG ${id.name}`);
  }
}

/** 412: the ETag moved. 400 SecurityRuleConflict: the priority we picked was taken meanwhile. */
function isRace(err: unknown): boolean {
  const { status, code } = armStatus(err);
  return status === 412 || (status === 400 && code === 'SecurityRuleConflict');
}

function nsgId(resourceId: string): ArmResourceId {
  const id = parseArmResourceId(resourceId, 'Microsoft.Network', 'networkSecurityGroups');
  if (!id) throw new ArmWriteError('Rejected', `${resourceId} is not a network security group id`);
  return id;
}
