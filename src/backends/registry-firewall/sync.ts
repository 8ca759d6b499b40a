/**
 * Keeps the cluster's egress addresses in a registry's IP firewall (`networkRuleSet.ipRules`), touching no rule
 * that is not ours.
 *
 * ACR has no per-rule write: `az acr network-rule add` itself reads the registry and PATCHes the whole
 * `networkRuleSet`. We do the same, sending back `defaultAction` and every foreign rule exactly as read, in order.
 *
 * No ETag: in api-version 2025-11-01 the Registry resource has none (the REST spec's Registry is a plain
 * TrackedResource, Registries_Update takes no If-Match, and @azure/arm-containerregistry 12 has no etag field), so
 * a conditional write is not possible. What stands in for it:
 * - one writer per registry in this process (the keyed mutex), so two resources targeting one registry never race;
 * - the write is made from a read taken after every other call of the pass (listUsages is followed by a re-read),
 *   so the window in which another writer's change can be overwritten is one request long, not a whole pass;
 * - after each write the registry is read again and planned again: if another writer's PATCH, made from a read
 *   older than ours, removed our rules (or brought back ones we removed), the next write restores them while
 *   keeping whatever that writer added. This repeats up to `maxConflicts` times, then fails as Conflict.
 * What remains is the case no client of this API can detect: a foreign PATCH that lands between our last read and
 * our PATCH is overwritten by ours (as with `az acr network-rule add`). Once ACR serves an ETag, send If-Match.
 *
 * A steady state costs one GET. listUsages (the IP rule quota) is read only when a rule is to be added.
 */
import type { IPRule, Registry } from '@azure/arm-containerregistry';
import type { ArmClients } from '../../azure/clients.js';
import {
  ArmWriteError,
  classifyArmWriteError,
  parseArmResourceId,
  settle,
  type ArmResourceId,
} from '../../azure/arm-write.js';
import { armObjectLocks, type KeyedMutex } from '../../azure/keyed-mutex.js';
import { hasChanges, ipv4Key, planIpRules, quotaRefusal, ruleValue, sortKeys, type IpRulesPlan } from './plan.js';

export interface RegistryIpRulesTarget {
  /** The registry's ARM id. */
  registryId: string;
  /** Addresses to allow (IPv4 addresses or CIDRs; anything else is skipped with a warning). */
  desired: string[];
  /** The ledger: the values this resource added earlier (from its status). */
  owned: string[];
}

export interface RegistryIpRulesOptions {
  /** Audit: read and report what would be written, write nothing. */
  mode?: 'Enforce' | 'Audit';
  locks?: KeyedMutex;
  /** Re-writes after another writer overwrote ours, before giving up as Conflict. */
  maxConflicts?: number;
  /** How long the PATCH's LRO is polled before the worker stops waiting (the write goes on in Azure). */
  lroDeadlineMs?: number;
  /** Poll interval when ARM sends no Retry-After. */
  pollIntervalMs?: number;
}

export interface RegistryIpRulesResult {
  /** The ledger to record in status: ours present in (or being written to) the registry. */
  owned: string[];
  /** PATCH requests made; in Audit, those that would be made. */
  written: number;
  /** Values added (in Audit: that would be added). */
  added: string[];
  /** Values removed (in Audit: that would be removed). */
  removed: string[];
  /** `Disabled` makes IP rules moot: status should say so. */
  publicNetworkAccess?: string;
  /** IP rules are a Premium feature; on another SKU nothing is written. */
  sku?: string;
  /** `Allow` admits every network, so the rules decide nothing until it is `Deny`. */
  defaultAction?: string;
  /** Rules in the registry after this sync and its limit; read only when something was to be added. */
  quota?: { used: number; limit: number };
  warnings: string[];
  /** The PATCH was still running at the deadline, or the registry was busy with another update: sync again later. */
  pending: boolean;
  retryAfterMs?: number;
}

const DEFAULTS = { lroDeadlineMs: 30_000, pollIntervalMs: 2_000, maxConflicts: 5 };
/** Registry updates take a while in Azure; look again after this much when we stop waiting. */
const PENDING_RETRY_MS = 30_000;
/** The documented Premium limit, used only when the registry reports no `IPRules` usage. */
const DOCUMENTED_IP_RULE_LIMIT = 200;
/** The usage name of the IP rule quota (Get-AzContainerRegistryUsage; reference/azure-facts.md §2.2). */
const IP_RULES_USAGE = 'iprules';

type Registries = Pick<ArmClients, 'containerRegistry'>;

export async function syncRegistryIpRules(
  clients: Registries,
  target: RegistryIpRulesTarget,
  opts: RegistryIpRulesOptions = {},
): Promise<RegistryIpRulesResult> {
  const id = registryId(target.registryId);
  const o = { ...DEFAULTS, ...opts };
  return (opts.locks ?? armObjectLocks).run(id.id, async () => {
    const registries = clients.containerRegistry(id.subscriptionId).registries;
    let ledger = target.owned;
    let written = 0;
    let conflicts = 0;
    let checkedWrite = 0;
    let limit: number | undefined;
    const limitWarnings: string[] = [];
    const added = new Set<string>();
    const removed = new Set<string>();
    for (;;) {
      const registry = await read(clients, id);
      const rules = registry.networkRuleSet?.ipRules ?? [];
      const plan = planIpRules(
        rules.map((r) => r.iPAddressOrRange),
        target.desired,
        ledger,
      );
      const facts = registryFacts(registry, id, target.desired.length > 0);
      const result = (r: {
        owned: string[];
        written: number;
        pending?: boolean;
        /** What would be written (Audit); default: what was. */
        would?: IpRulesPlan;
      }): RegistryIpRulesResult => ({
        owned: r.owned,
        written: r.written,
        added: r.would ? r.would.added : [...added],
        removed: r.would ? r.would.removed : [...removed],
        ...facts.fields,
        ...(limit !== undefined ? { quota: { used: (r.would ?? plan).next.length, limit } } : {}),
        warnings: [...plan.warnings, ...facts.warnings, ...limitWarnings],
        pending: r.pending ?? false,
        ...(r.pending ? { retryAfterMs: PENDING_RETRY_MS } : {}),
      });
      if (!hasChanges(plan)) return result({ owned: plan.owned, written });
      // The registry needs changes again after our own write: another writer overwrote it meanwhile.
      if (written > checkedWrite) {
        checkedWrite = written;
        if (++conflicts > o.maxConflicts) {
          throw new ArmWriteError(
            'Conflict',
            `IP rules of registry ${id.name} kept being overwritten by another writer (${conflicts} times); what is in force stays`,
          );
        }
      }
      if (!facts.premium) return result({ owned: plan.current, written });
      if (plan.added.length && limit === undefined) {
        limit = await readLimit(clients, id, limitWarnings);
        // Read again: the write must be made from a read taken after this call.
        continue;
      }
      if (limit !== undefined) {
        const refusal = quotaRefusal(id.name, { limit, used: rules.length }, plan);
        if (refusal) throw new ArmWriteError('Rejected', refusal);
      }
      if (opts.mode === 'Audit') return result({ owned: plan.current, written: written + 1, would: plan });
      // ARM is still applying an earlier update (ours past its deadline, or someone else's): do not write over it.
      if (registry.provisioningState && registry.provisioningState.toLowerCase() !== 'succeeded') {
        // The ledger stays whole: values of a write still landing are not in the read yet.
        return result({ owned: canonicalUnion(ledger, plan.current), written, pending: true });
      }
      const networkRuleSet = {
        // As read: the operator never opens or closes the registry, it only adds its addresses.
        defaultAction: registry.networkRuleSet?.defaultAction ?? 'Allow',
        ipRules: nextRules(rules, plan.next),
      };
      let settled;
      try {
        settled = await settle(
          (abortSignal) =>
            registries.update(
              id.resourceGroup,
              id.name,
              { networkRuleSet },
              { abortSignal, updateIntervalInMs: o.pollIntervalMs },
            ),
          o.lroDeadlineMs,
        );
      } catch (err) {
        throw classifyArmWriteError(err, `PATCH networkRuleSet of registry ${id.name}`);
      }
      written++;
      plan.added.forEach((v) => added.add(v));
      plan.removed.forEach((v) => removed.add(v));
      // Removed values stay in the ledger for the re-read: one brought back by a stale writer is still ours.
      ledger = canonicalUnion(plan.owned, plan.removed);
      if (!settled.done) return result({ owned: ledger, written, pending: true });
    }
  });
}

/** Removes exactly `owned` (those still present) from the registry's IP rules. Finalizer work. */
export async function releaseRegistryIpRules(
  clients: Registries,
  target: Omit<RegistryIpRulesTarget, 'desired'>,
  opts: RegistryIpRulesOptions = {},
): Promise<RegistryIpRulesResult> {
  return syncRegistryIpRules(clients, { ...target, desired: [] }, opts);
}

/** The rules to send: each kept one as read (action included), then ours. */
function nextRules(live: readonly IPRule[], next: readonly string[]): IPRule[] {
  const byValue = new Map(live.map((r) => [r.iPAddressOrRange, r]));
  return next.map((v) => byValue.get(v) ?? { action: 'Allow', iPAddressOrRange: v });
}

function canonicalUnion(a: readonly string[], b: readonly string[]): string[] {
  const keys = [...a, ...b].map(ipv4Key).filter((k): k is string => k !== undefined);
  return sortKeys(keys).map(ruleValue);
}

/** What the caller reports beside the rules: whether they can have any effect. */
function registryFacts(registry: Registry, id: ArmResourceId, wanted: boolean) {
  const sku = registry.sku?.name;
  const publicNetworkAccess = registry.publicNetworkAccess;
  const defaultAction = registry.networkRuleSet?.defaultAction;
  const premium = !sku || sku.toLowerCase() === 'premium';
  const warnings: string[] = [];
  if (wanted && !premium) {
    warnings.push(`registry ${id.name} is ${sku}: IP rules are a Premium feature, so none were written`);
  }
  if (wanted && publicNetworkAccess?.toLowerCase() === 'disabled') {
    warnings.push(
      `registry ${id.name} has public network access disabled: IP rules admit nobody until it is enabled (pulls must use a private endpoint)`,
    );
  }
  const fields = {
    ...(publicNetworkAccess ? { publicNetworkAccess } : {}),
    ...(sku ? { sku } : {}),
    ...(defaultAction ? { defaultAction } : {}),
  };
  return { premium, warnings, fields };
}

async function read(clients: Registries, id: ArmResourceId): Promise<Registry> {
  try {
    return await clients.containerRegistry(id.subscriptionId).registries.get(id.resourceGroup, id.name);
  } catch (err) {
    throw classifyArmWriteError(err, `GET registry ${id.name}`);
  }
}

async function readLimit(clients: Registries, id: ArmResourceId, warnings: string[]): Promise<number> {
  let usages;
  try {
    usages = await clients.containerRegistry(id.subscriptionId).registries.listUsages(id.resourceGroup, id.name);
  } catch (err) {
    throw classifyArmWriteError(err, `list usages of registry ${id.name}`);
  }
  const usage = usages.value?.find((u) => u.name?.toLowerCase() === IP_RULES_USAGE);
  if (usage?.limit !== undefined) return usage.limit;
  warnings.push(
    `registry ${id.name} reports no IPRules usage: assuming the documented Premium limit of ${DOCUMENTED_IP_RULE_LIMIT}`,
  );
  return DOCUMENTED_IP_RULE_LIMIT;
}

function registryId(resourceId: string): ArmResourceId {
  const id = parseArmResourceId(resourceId, 'Microsoft.ContainerRegistry', 'registries');
  if (!id) throw new ArmWriteError('Rejected', `${resourceId} is not a container registry id`);
  return id;
}
