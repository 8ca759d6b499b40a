/**
 * The Azure side of one ClusterAcrAccess: its NSG rules, its firewall policy rule collection group and (through
 * registry-firewall/) the registry's IP rules, synced from one intent. Azure objects carry no owner reference, so
 * what is ours comes from the ledger in the resource's status (`status.applied.azure`): a target that left the spec
 * is released (only what the ledger says we wrote), and deleting the resource releases everything in it.
 *
 * Each target is synced on its own: one failing (a missing role, an outage) never stops the others, and never
 * removes what is in force there. Writes to one ARM object are serialised across resources by the modules' keyed
 * mutex; a write still running when its deadline passes is reported Pending and looked at again later.
 */
import type { AzureLedger, AzureSpec, AzureTargetStatus } from '../../api/types.js';
import { ArmWriteError, classifyArmWriteError } from '../../azure/arm-write.js';
import type { ArmClients } from '../../azure/clients.js';
import type { EgressIntent, IntentOwner } from '../../intent/intent.js';
import { planRuleCollectionGroup, type RcgPlan } from '../azure-firewall/plan.js';
import { releaseRuleCollectionGroup, syncRuleCollectionGroup } from '../azure-firewall/sync.js';
import { planNsgRules, type NsgTarget } from '../nsg/plan.js';
import { releaseNsgRules, syncNsgRules } from '../nsg/sync.js';
import { discoverClusterEgress, type ClusterEgress } from '../registry-firewall/egress.js';
import { releaseRegistryIpRules, syncRegistryIpRules } from '../registry-firewall/sync.js';

export type AzureMode = 'Enforce' | 'Audit';

/** What the Azure step knows beyond the intent: the registry's ARM id, and make-before-break for egress IPs. */
export interface AzureSyncContext {
  /** `spec.registry.resourceId`: the registry firewall is written through ARM, so it needs the id. */
  registryId?: string;
  /** The egress addresses to allow given the current ones: those that left stay for the grace period. */
  retainEgress(current: string[]): string[];
}

export interface AzureSyncResult {
  targets: AzureTargetStatus[];
  /** The ledger after this pass: record it in status. */
  ledger: AzureLedger;
  failures: ArmWriteError[];
  /** Write requests made (in Audit: that would be made). */
  written: number;
  /** When to look again: a write still running, or a failure worth retrying. */
  retryAfterMs?: number;
}

/** A failure a person must fix is looked at again at this pace, not hot. */
const PERMANENT_RETRY_MS = 5 * 60_000;
const TRANSIENT_RETRY_MS = 30_000;

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const ownerKey = (intent: EgressIntent) => intent.owner.uid ?? `${intent.owner.kind}/${intent.owner.name}`;
const without = (list: string[] | undefined, id: string) => (list ?? []).filter((x) => !same(x, id));
const withId = (list: string[] | undefined, id: string) => [...without(list, id), id].sort();
const ledgerValues = (ledger: AzureLedger, registryId: string) =>
  ledger.registryIpRules?.find((e) => same(e.registryId, registryId))?.values ?? [];

function setLedgerValues(ledger: AzureLedger, registryId: string, values: string[]): void {
  const others = (ledger.registryIpRules ?? []).filter((e) => !same(e.registryId, registryId));
  ledger.registryIpRules = values.length
    ? [...others, { registryId, values: [...values].sort() }].sort((a, b) => (a.registryId < b.registryId ? -1 : 1))
    : others;
  if (!ledger.registryIpRules.length) delete ledger.registryIpRules;
}

function groupPlan(intent: EgressIntent, policy: NonNullable<AzureSpec['firewallPolicy']>): RcgPlan {
  return planRuleCollectionGroup(
    intent,
    {
      resourceId: policy.resourceId,
      ...(policy.ruleCollectionGroup ? { ruleCollectionGroup: policy.ruleCollectionGroup } : {}),
      ...(policy.priority !== undefined ? { priority: policy.priority } : {}),
    },
    policy.sourceAddresses?.length ? policy.sourceAddresses : ['*'],
    { networkRules: policy.networkRules ?? false },
  );
}

export function hasAzureTargets(spec: AzureSpec | undefined): boolean {
  return !!(spec?.networkSecurityGroups?.length || spec?.firewallPolicy || spec?.registryFirewall?.enabled);
}

export function ledgerIsEmpty(ledger: AzureLedger | undefined): boolean {
  return !(
    ledger?.networkSecurityGroups?.length ||
    ledger?.ruleCollectionGroups?.length ||
    ledger?.registryIpRules?.some((r) => r.values?.length)
  );
}

export class AzureEnforcer {
  private readonly egress = new Map<string, { at: number; egress: Promise<ClusterEgress> }>();
  private readonly synced = new Map<string, { key: string; at: number; result: unknown }>();

  constructor(
    private readonly clients: ArmClients,
    /**
     * The refresh interval: a cluster's egress is read once per this long, however many resources name it, and a
     * target whose plan has not changed since it was last found up to date is looked at again only after this long
     * (drift made in Azure is repaired then), not at every resync: a shared NSG is not read once per resource.
     */
    private readonly refreshMs = 60_000,
    /**
     * How long a worker waits for a long-running write before moving on (the target is Pending and looked at
     * again later; the write goes on in Azure). Firewall policy updates take minutes: no worker waits that long.
     */
    private readonly waits = { lroDeadlineMs: 5_000 },
  ) {}

  async sync(
    intent: EgressIntent,
    spec: AzureSpec | undefined,
    before: AzureLedger,
    mode: AzureMode,
    context: AzureSyncContext,
  ): Promise<AzureSyncResult> {
    const run = new Pass(before);
    const nsgs = spec?.networkSecurityGroups ?? [];
    const tasks = nsgs.map((target) =>
      run.target('NetworkSecurityGroup', target.resourceId, () => this.syncNsg(intent, target, mode, run), mode),
    );
    const rcg = spec?.firewallPolicy ? groupPlan(intent, spec.firewallPolicy) : undefined;
    const rcgId = rcg && `${rcg.policyId}/ruleCollectionGroups/${rcg.name}`;
    if (rcg && rcgId)
      tasks.push(run.target('FirewallPolicy', rcgId, () => this.syncGroup(intent, rcg, rcgId, mode, run), mode));
    const firewall = spec?.registryFirewall;
    const registryId = firewall?.enabled ? context.registryId : undefined;
    if (firewall?.enabled) {
      const work = () => this.syncRegistry(intent, spec, context, mode, run);
      tasks.push(run.target('RegistryFirewall', registryId ?? 'spec.registry.loginServer', work, mode));
    }
    if (mode === 'Enforce') {
      // Targets that left the spec: release what the ledger says is ours there.
      for (const id of before.networkSecurityGroups ?? []) {
        if (nsgs.some((n) => same(n.resourceId, id))) continue;
        tasks.push(run.release(id, () => this.releaseNsg(intent.owner, id, run)));
      }
      for (const id of before.ruleCollectionGroups ?? []) {
        if (rcgId && same(id, rcgId)) continue;
        tasks.push(run.release(id, () => this.releaseGroup(id, run)));
      }
      for (const entry of before.registryIpRules ?? []) {
        if ((registryId && same(entry.registryId, registryId)) || !entry.values?.length) continue;
        tasks.push(run.release(entry.registryId, () => this.releaseIpRules(entry.registryId, entry.values!, run)));
      }
    }
    await Promise.all(tasks);
    return run.result();
  }

  private async syncNsg(intent: EgressIntent, target: NsgTarget, mode: AzureMode, run: Pass): Promise<TargetPass> {
    const plan = planNsgRules(intent, target);
    // Recorded before the write: a write that happened but whose status was lost is still released later.
    if (mode === 'Enforce')
      run.ledger.networkSecurityGroups = withId(run.ledger.networkSecurityGroups, target.resourceId);
    const r = await this.unlessFresh(`${ownerKey(intent)}|nsg|${target.resourceId}`, { plan, mode }, () =>
      syncNsgRules(this.clients, plan, { mode, ...this.waits }),
    );
    const rules = r.applied.map((a) => `${a.name}@${a.priority}`).join(', ') || 'none';
    return {
      written: r.written,
      pending: r.pending,
      retryAfterMs: r.retryAfterMs,
      detail: `${plan.rules.length} rules (${rules})`,
    };
  }

  private async syncGroup(
    intent: EgressIntent,
    rcg: RcgPlan,
    rcgId: string,
    mode: AzureMode,
    run: Pass,
  ): Promise<TargetPass> {
    const owned = (run.before.ruleCollectionGroups ?? []).some((x) => same(x, rcgId));
    const r = await this.unlessFresh(`${ownerKey(intent)}|rcg|${rcgId}`, { rcg, owned, mode }, () =>
      syncRuleCollectionGroup(this.clients, rcg, { owned, mode, ...this.waits }),
    );
    if (mode === 'Enforce' && r.owned) run.ledger.ruleCollectionGroups = withId(run.ledger.ruleCollectionGroups, rcgId);
    const detail = `rule collection group ${rcg.name}: ${intent.hosts.length} hosts`;
    return { written: r.written, pending: r.pending, retryAfterMs: r.retryAfterMs, detail };
  }

  private async syncRegistry(
    intent: EgressIntent,
    spec: AzureSpec | undefined,
    context: AzureSyncContext,
    mode: AzureMode,
    run: Pass,
  ): Promise<TargetPass> {
    const registryId = context.registryId;
    if (!registryId)
      throw new ArmWriteError(
        'Rejected',
        "registryFirewall writes the registry's IP rules through Azure Resource Manager: name the registry by spec.registry.resourceId",
      );
    const firewall = spec?.registryFirewall;
    const found = firewall?.clusterResourceId
      ? await this.clusterEgress(firewall.clusterResourceId, spec?.firewallPolicy?.resourceId)
      : undefined;
    const current = [...new Set([...(firewall?.egressIPs ?? []), ...(found?.addresses ?? [])])];
    const desired = context.retainEgress(current);
    const owned = ledgerValues(run.before, registryId);
    const r = await this.unlessFresh(
      `${ownerKey(intent)}|registry|${registryId}`,
      { desired: [...desired].sort(), owned, mode },
      () => syncRegistryIpRules(this.clients, { registryId, desired, owned }, { mode, ...this.waits }),
    );
    if (mode === 'Enforce') setLedgerValues(run.ledger, registryId, r.owned);
    const notes = [...(found?.warnings ?? []), ...r.warnings];
    if (r.publicNetworkAccess?.toLowerCase() === 'disabled')
      notes.push('public network access of the registry is Disabled: IP rules admit nothing until it is enabled');
    if (r.defaultAction?.toLowerCase() === 'allow')
      notes.push('the registry firewall admits every network (defaultAction Allow): the rules decide nothing yet');
    const via = found ? ` (cluster outboundType ${found.outboundType})` : '';
    const change = r.added.length + r.removed.length ? `; +${r.added.length} -${r.removed.length}` : '';
    const quota = r.quota ? `; ${r.quota.used} of ${r.quota.limit} IP rules used` : '';
    const detail = `${desired.length} egress addresses${via}, ${r.owned.length} rules ours${change}${quota}`;
    return {
      written: r.written,
      pending: r.pending,
      retryAfterMs: r.retryAfterMs,
      detail: `${detail}${notes.map((n) => `; ${n}`).join('')}`,
    };
  }

  /** Removes everything the ledger (and the spec, for NSG rules, which are found by name) says is ours. */
  async release(owner: IntentOwner, spec: AzureSpec | undefined, before: AzureLedger): Promise<AzureSyncResult> {
    const run = new Pass(before);
    const nsgIds = [...(before.networkSecurityGroups ?? [])];
    for (const n of spec?.networkSecurityGroups ?? [])
      if (!nsgIds.some((x) => same(x, n.resourceId))) nsgIds.push(n.resourceId);
    await Promise.all([
      ...nsgIds.map((id) => run.release(id, () => this.releaseNsg(owner, id, run))),
      ...(before.ruleCollectionGroups ?? []).map((id) => run.release(id, () => this.releaseGroup(id, run))),
      ...(before.registryIpRules ?? [])
        .filter((e) => e.values?.length)
        .map((e) => run.release(e.registryId, () => this.releaseIpRules(e.registryId, e.values!, run))),
    ]);
    return run.result();
  }

  /**
   * Runs `work` unless the same plan (`input`) was found up to date within the refresh interval; then its last
   * result stands, with no request. A failure or a write still running is never remembered.
   */
  private async unlessFresh<T extends { written: number; pending: boolean }>(
    id: string,
    input: unknown,
    work: () => Promise<T>,
  ): Promise<T> {
    const key = JSON.stringify(input);
    const now = Date.now();
    const hit = this.synced.get(id);
    if (hit && hit.key === key && now - hit.at < this.refreshMs) return hit.result as T;
    const result = await work();
    if (result.pending) this.synced.delete(id);
    else this.synced.set(id, { key, at: now, result: { ...result, written: 0 } });
    if (this.synced.size > 10_000)
      for (const [k, v] of this.synced) if (now - v.at >= this.refreshMs) this.synced.delete(k);
    return result;
  }

  /** One read of a cluster's egress per TTL, shared by the resources naming it; a failed read is not kept. */
  private clusterEgress(clusterId: string, firewallPolicyId: string | undefined): Promise<ClusterEgress> {
    const key = `${clusterId.toLowerCase()}|${firewallPolicyId?.toLowerCase() ?? ''}`;
    const now = Date.now();
    const cached = this.egress.get(key);
    if (cached && now - cached.at < this.refreshMs) return cached.egress;
    const egress = discoverClusterEgress(this.clients, clusterId, firewallPolicyId ? { firewallPolicyId } : {});
    this.egress.set(key, { at: now, egress });
    egress.catch(() => this.egress.delete(key));
    for (const [k, v] of this.egress) if (now - v.at > 2 * this.refreshMs) this.egress.delete(k);
    return egress;
  }

  private async releaseIpRules(registryId: string, owned: string[], run: Pass): Promise<boolean> {
    this.forget('registry', registryId);
    const r = await releaseRegistryIpRules(this.clients, { registryId, owned }, this.waits);
    run.written += r.written;
    setLedgerValues(run.ledger, registryId, r.owned);
    return !r.pending;
  }

  /** A released target is no longer known up to date: re-adding it must write again. */
  private forget(kind: string, id: string): void {
    const suffix = `|${kind}|${id}`.toLowerCase();
    for (const k of this.synced.keys()) if (k.toLowerCase().endsWith(suffix)) this.synced.delete(k);
  }

  private async releaseNsg(owner: IntentOwner, id: string, run: Pass): Promise<boolean> {
    this.forget('nsg', id);
    const r = await releaseNsgRules(this.clients, owner, id, this.waits);
    run.written += r.written;
    if (r.pending) return false;
    run.ledger.networkSecurityGroups = without(run.ledger.networkSecurityGroups, id);
    return true;
  }

  private async releaseGroup(id: string, run: Pass): Promise<boolean> {
    this.forget('rcg', id);
    const at = id.toLowerCase().lastIndexOf('/rulecollectiongroups/');
    const policyId = id.slice(0, at);
    const name = id.slice(at + '/ruleCollectionGroups/'.length);
    const r = await releaseRuleCollectionGroup(this.clients, { policyId, name }, { owned: true, ...this.waits });
    run.written += r.written;
    if (r.pending) return false;
    run.ledger.ruleCollectionGroups = without(run.ledger.ruleCollectionGroups, id);
    return true;
  }
}

interface TargetPass {
  written: number;
  pending: boolean;
  retryAfterMs?: number | undefined;
  detail: string;
}

/** One pass over the targets: the ledger as it changes, each target's state, failures and when to look again. */
class Pass {
  readonly ledger: AzureLedger;
  readonly targets: AzureTargetStatus[] = [];
  readonly failures: ArmWriteError[] = [];
  written = 0;
  private retryAfterMs: number | undefined;

  constructor(readonly before: AzureLedger) {
    this.ledger = structuredClone(before);
  }

  async target(kind: AzureTargetStatus['kind'], resourceId: string, work: () => Promise<TargetPass>, mode: AzureMode) {
    try {
      const r = await work();
      this.written += r.written;
      if (r.pending) {
        this.later(r.retryAfterMs ?? TRANSIENT_RETRY_MS);
        this.targets.push({
          kind,
          resourceId,
          state: 'Pending',
          reason: 'WriteInProgress',
          message: `${r.detail}; a write is still running in Azure`,
        });
      } else if (mode === 'Audit') {
        this.targets.push({
          kind,
          resourceId,
          state: 'Audited',
          reason: 'Audit',
          message: `${r.detail}; ${r.written} writes would be made`,
        });
      } else {
        this.targets.push({ kind, resourceId, state: 'Enforced', reason: 'UpToDate', message: r.detail });
      }
    } catch (err) {
      this.fail(kind, resourceId, err);
    }
  }

  /** Releases one target that is no longer wanted; a failure keeps it in the ledger for the next pass. */
  async release(id: string, work: () => Promise<boolean>): Promise<void> {
    try {
      if (!(await work())) this.later(TRANSIENT_RETRY_MS);
    } catch (err) {
      const e = classifyArmWriteError(err, `release ${id}`);
      // A target already gone holds nothing of ours.
      if (e.kind === 'NotFound') {
        this.ledger.networkSecurityGroups = without(this.ledger.networkSecurityGroups, id);
        this.ledger.ruleCollectionGroups = without(this.ledger.ruleCollectionGroups, id);
        setLedgerValues(this.ledger, id, []);
        return;
      }
      this.failures.push(e);
      this.later(e.transient ? (e.retryAfterMs ?? TRANSIENT_RETRY_MS) : PERMANENT_RETRY_MS);
    }
  }

  fail(kind: AzureTargetStatus['kind'], resourceId: string, err: unknown): void {
    const e = classifyArmWriteError(err, kind);
    this.failures.push(e);
    this.later(e.transient ? (e.retryAfterMs ?? TRANSIENT_RETRY_MS) : PERMANENT_RETRY_MS);
    this.targets.push({ kind, resourceId, state: 'Failed', reason: `Azure${e.kind}`, message: e.message });
  }

  later(ms: number): void {
    this.retryAfterMs = Math.min(this.retryAfterMs ?? Infinity, Math.max(1000, ms));
  }

  result(): AzureSyncResult {
    const order = (t: AzureTargetStatus) => `${t.kind}/${t.resourceId.toLowerCase()}`;
    return {
      targets: this.targets.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0)),
      ledger: this.ledger,
      failures: this.failures,
      written: this.written,
      ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}),
    };
  }
}
