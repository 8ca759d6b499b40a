import { isDeepStrictEqual } from 'node:util';
import { KIND_ACR_ACCESS, KIND_CLUSTER_ACR_ACCESS, type AnyAcrAccess } from '../api/types.js';
import {
  HostResolutionError,
  buildAddressSet,
  dnsOnlyFeed,
  resolveEndpointHosts,
  type AddressSet,
} from '../addresses/address-set.js';
import type { DnsAnswer } from '../addresses/dns.js';
import type { AzureEnforcer } from '../backends/azure/enforcer.js';
import { planChosen, type BackendChoice, type BackendRegistry } from '../backends/registry.js';
import { isControlledBy, ownerId } from '../backends/ownership.js';
import { accessNote, allHosts, type EndpointResolver, type RegistryEndpoints } from '../endpoints/endpoints.js';
import { ownerOf } from '../intent/intent.js';
import { intentsFor } from '../intent/pipeline.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import { objectKey, type KubeObject } from '../kube/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { NameConflictError, applyAndPrune, ensurePrerequisites } from './apply.js';
import { CONDITIONS, conditionOf } from './conditions.js';
import { ledgerPrefixes, selectNamespaces } from './scope.js';
import { VERDICT_REASONS, registryRefusal, resolutionFailure, verdictFor } from '../intent/verdict.js';
import type { DnsCache } from './dns-cache.js';
import type { EventRecorder } from './events.js';
import type { FeedManager } from './feeds.js';
import { nextExpiry, retain, retainHosts } from './retention.js';
import { buildStatus, type Outcome } from './status.js';
import { AddressSetCache } from './address-sets.js';
import { finalize, needsAzureStep, reconcileAzure } from './azure-step.js';

export interface ReconcilerConfig {
  graceMs: number;
  /** Registry patterns (globs on the login server, e.g. `*.azurecr.io`); empty allows every registry. */
  allowedRegistries: string[];
  /** Namespaces a ClusterAcrAccess may write into; empty means all. */
  watchedNamespaces: string[];
  /** The operator's own namespace: like the system namespaces, selected only when named explicitly. */
  operatorNamespace?: string;
  maxBytesPerObject?: number;
  /** How long to wait before trying again when there is no data at all. */
  noDataRetryMs: number;
  /** Registries named by spec.registry.resourceId are discovered from ARM (the resolver is an ArmEndpointResolver). */
  armDiscovery?: boolean;
  /** spec.azure is acted on (an AzureEnforcer is among the deps). */
  azure?: boolean;
}

/** What the reconciler reads; the manager backs it with informer caches. */
export interface ReconcilerCaches {
  resource(key: string): AnyAcrAccess | undefined;
  /** Live managed objects whose controller reference names this uid. */
  ownedObjects(ownerUid: string): KubeObject[];
  namespaces(): KubeObject[];
}

export interface ReconcileResult {
  requeueAfterMs?: number;
  /** Tags and hosts the resource used, so the manager can tell which resources a feed or DNS change touches. */
  tags?: string[];
  hosts?: string[];
}

export interface ReconcilerDeps {
  client: KubeClient;
  feeds: FeedManager;
  dns?: Pick<DnsCache, 'resolve' | 'failure'>;
  endpoints: EndpointResolver;
  recorder: EventRecorder;
  backends: BackendRegistry;
  /** Azure-side targets (spec.azure); absent when the operator runs without Azure Resource Manager. */
  azure?: AzureEnforcer;
  /** Told of each object as the API server stored it after the operator's write (to skip its watch echo). */
  onWritten?: (obj: KubeObject) => void;
  caches: ReconcilerCaches;
  logger: Logger;
  metrics: Metrics;
  config: ReconcilerConfig;
  now?: () => Date;
}

class Stalled extends Error {
  constructor(
    readonly reason: string,
    message: string,
    /** When to look again; a Stalled resource is not retried with backoff, only at this pace and on changes. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Requeue delays stay far below Node's timer limit (~24.8 days), past which a timer fires at once. */
export const MAX_REQUEUE_MS = 12 * 3_600_000;
const NAME_CONFLICT_RETRY_MS = 60_000;
const REJECTED_RETRY_MS = 5 * 60_000;

/** The work-queue key of a resource: the one owner-id format (`Kind/namespace/name`, `Kind/name`). */
export function resourceKey(r: Pick<AnyAcrAccess, 'apiVersion' | 'kind' | 'metadata'>): string {
  return ownerId(ownerOf(r as AnyAcrAccess));
}

/**
 * One level-triggered pass for an AcrAccess or ClusterAcrAccess: resolve endpoints and addresses, keep leaving
 * prefixes for their grace period, plan, apply what differs, prune what is no longer wanted, and write status only
 * when it changed. Failures never remove an allow rule: live objects are left as they are.
 */
export class Reconciler {
  private readonly ensured = new Set<string>();
  private readonly addressSets = new AddressSetCache();

  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const resource = this.deps.caches.resource(key);
    if (!resource) return {};
    if (resource.metadata.deletionTimestamp) {
      if (resource.kind !== KIND_CLUSTER_ACR_ACCESS) return {};
      return finalize(resource, { ...this.deps, now: this.deps.now?.() ?? new Date() });
    }
    const now = this.deps.now?.() ?? new Date();
    const owner = ownerOf(resource);
    const live = owner.uid ? this.deps.caches.ownedObjects(owner.uid).filter((o) => isControlledBy(o, owner)) : [];
    const outcome: Outcome = {};
    const result: ReconcileResult = {};
    try {
      // The same decision render makes: refusals, Audit, fields not acted on yet.
      const verdict = verdictFor(resource, this.deps.config);
      if (verdict.refusal) throw new Stalled(verdict.refusal.reason, verdict.refusal.message);
      outcome.notes = verdict.notes.filter((n) => n.reason !== VERDICT_REASONS.audit);
      const choice = this.deps.backends.choose(resource);
      outcome.backends = choice;
      if (choice.refusal) throw new Stalled(choice.refusal.reason, choice.refusal.message);
      const endpoints = await this.resolveEndpoints(resource, outcome, live.length > 0);
      if (endpoints) {
        outcome.endpoints = endpoints;
        const access = accessNote(endpoints);
        if (access) outcome.notes = [...(outcome.notes ?? []), access];
        result.hosts = allHosts(endpoints);
      }
      const addresses = endpoints && (await this.resolveAddresses(resource, endpoints, outcome, live.length > 0));
      if (!endpoints || !addresses) {
        result.requeueAfterMs = this.deps.config.noDataRetryMs;
      } else {
        result.tags = addresses.tags.map((t) => t.name);
        await this.enforce(resource, endpoints, addresses, live, outcome, now, result, choice);
      }
    } catch (err) {
      if (!(err instanceof Stalled)) throw err;
      outcome.stalled = { reason: err.reason, message: err.message };
      if (err.retryAfterMs !== undefined) result.requeueAfterMs = err.retryAfterMs;
      // Once per transition, not on every resync or restart: the condition already says it.
      const before = conditionOf(resource.status?.conditions, CONDITIONS.stalled);
      const same = before?.status === 'True' && before.reason === err.reason && before.message === err.message;
      if (!same) await this.deps.recorder.record(ownerOf(resource), 'Warning', err.reason, err.message);
    }
    outcome.live = live;
    await this.writeStatus(resource, outcome, now);
    if (result.requeueAfterMs !== undefined) result.requeueAfterMs = Math.min(result.requeueAfterMs, MAX_REQUEUE_MS);
    return result;
  }

  /** The endpoints, or undefined when ARM cannot answer now (then what is in force stays, and nothing is written). */
  private async resolveEndpoints(
    resource: AnyAcrAccess,
    outcome: Outcome,
    hasLive: boolean,
  ): Promise<RegistryEndpoints | undefined> {
    let endpoints: RegistryEndpoints;
    try {
      endpoints = await this.deps.endpoints.resolve(resource.spec.registry, {
        includeMicrosoftContainerRegistry: resource.spec.includeMicrosoftContainerRegistry ?? false,
      });
    } catch (err) {
      const failure = resolutionFailure(err);
      if (failure.stalled) throw new Stalled(failure.reason, failure.message);
      if (!failure.outage) throw err;
      // An ARM outage is not the spec's fault: keep the live policies, say why, look again later.
      const message = `${failure.message}; the policies in force stay as they are`;
      if (hasLive) outcome.degraded = { reason: failure.reason, message };
      else outcome.noData = { reason: failure.reason, message };
      return undefined;
    }
    // A registry named by resource id is checked against the allow-list once ARM has told its login server.
    const refusal = resource.spec.registry.loginServer
      ? undefined
      : registryRefusal(endpoints.loginServer, this.deps.config);
    if (refusal) throw new Stalled(refusal.reason, refusal.message);
    return endpoints;
  }

  /** The address set, or undefined when there is no data at all (then nothing is written). */
  private async resolveAddresses(
    resource: AnyAcrAccess,
    endpoints: RegistryEndpoints,
    outcome: Outcome,
    hasLive: boolean,
  ): Promise<AddressSet | undefined> {
    const spec = resource.spec;
    const sources = spec.addressSources ?? ['ServiceTags', 'DNS'];
    const families = spec.ipFamilies ?? ['IPv4', 'IPv6'];
    const cloud = endpoints.cloud.name;
    const feedState = await this.deps.feeds.feedFor(cloud);
    const problem = this.deps.feeds.servesCloud(cloud) ? this.deps.feeds.problem : undefined;
    if (problem) outcome.degraded = { reason: problem.reason, message: problem.message };
    const needsFeed = sources.includes('ServiceTags') || (spec.includeMicrosoftContainerRegistry ?? false);
    if (needsFeed && !feedState) {
      const message = `no Service Tags feed for ${cloud} yet${problem ? `: ${problem.message}` : ''}; nothing is written until one is accepted`;
      if (hasLive) outcome.degraded = { reason: problem?.reason ?? 'NoFeed', message };
      else outcome.noData = { reason: 'NoAddressData', message };
      return undefined;
    }
    outcome.acceptedAt = feedState?.acceptedAt;
    let dnsAnswers: DnsAnswer[] | undefined;
    if (sources.includes('DNS')) {
      const dns = this.deps.dns;
      if (!dns)
        throw new Stalled('DNSUnavailable', 'addressSources includes DNS but the operator runs without DNS resolution');
      try {
        dnsAnswers = await resolveEndpointHosts(dns, endpoints, families);
      } catch (err) {
        const message = `DNS: ${(err as Error).message}; the last known good addresses stay in force`;
        const reason =
          err instanceof HostResolutionError && err.kind === 'RequiredHostMissing'
            ? 'RequiredHostNotFound'
            : 'DNSFailed';
        if (hasLive) outcome.degraded = { reason, message };
        else outcome.noData = { reason, message };
        return undefined;
      }
      const stale = allHosts(endpoints)
        .map((h) => dns.failure(h))
        .find(Boolean);
      if (stale) outcome.degraded = { reason: 'DNSFailed', message: `${stale}; using the last answer` };
    }
    try {
      return (dnsAnswers || !feedState ? buildAddressSet : this.addressSets.get)({
        feed: feedState?.feed ?? dnsOnlyFeed(endpoints),
        endpoints,
        sources,
        families,
        includeMicrosoftContainerRegistry: spec.includeMicrosoftContainerRegistry ?? false,
        ...(dnsAnswers ? { dnsAnswers } : {}),
      });
    } catch (err) {
      const failure = resolutionFailure(err);
      if (failure.stalled) throw new Stalled(failure.reason, failure.message);
      throw err;
    }
  }

  private async enforce(
    resource: AnyAcrAccess,
    endpoints: RegistryEndpoints,
    addresses: AddressSet,
    live: KubeObject[],
    outcome: Outcome,
    now: Date,
    result: ReconcileResult,
    choice: BackendChoice,
  ): Promise<void> {
    const { config } = this.deps;
    // Every removal retires with grace, whether the feed, DNS or the spec caused it: a replica dropped from the spec
    // can still serve pulls until DNS caches expire, and an unrelated edit must not end a grace period. What was
    // allowed comes from the operator's own ledger in status, never from live objects, which others can edit.
    const retention = retain({
      desired: [...addresses.ipv4, ...addresses.ipv6],
      applied: ledgerPrefixes(resource.status),
      retiring: resource.status?.addresses?.retiring ?? [],
      now,
      graceMs: config.graceMs,
    });
    const ipv4 = retention.effective.filter((p) => !p.includes(':'));
    const ipv6 = retention.effective.filter((p) => p.includes(':'));
    const scope = this.namespacesFor(resource);
    if (scope.excluded.length > 0) {
      outcome.notes = [
        ...(outcome.notes ?? []),
        {
          reason: 'NamespacesExcluded',
          message: `namespaces ${scope.excluded.join(', ')} match namespaceSelector but are system or operator namespaces, selected only when named by kubernetes.io/metadata.name`,
        },
      ];
    }
    const hosts = retainHosts({
      desired: allHosts(endpoints),
      applied: resource.status?.applied?.hosts ?? [],
      retiring: resource.status?.endpoints?.retiring ?? [],
      now,
      graceMs: config.graceMs,
    });
    outcome.retiringHosts = hosts.retiring;
    const intents = intentsFor(resource, endpoints, { ...addresses, ipv4, ipv6 }, scope.selected).map((i) => ({
      ...i,
      hosts: hosts.effective,
    }));
    const planned = planChosen(
      choice,
      intents,
      config.maxBytesPerObject ? { maxBytesPerObject: config.maxBytesPerObject } : {},
    );
    const desired = planned.objects;
    outcome.covered = planned.covered;
    outcome.addresses = addresses;
    outcome.effective = { ipv4: ipv4.length, ipv6: ipv6.length };
    outcome.retiring = retention.retiring;
    outcome.objects = desired;
    const labels = { kind: resource.kind, namespace: resource.metadata.namespace ?? '', name: resource.metadata.name };
    this.deps.metrics.prefixes.set({ ...labels, state: 'allowed' }, retention.effective.length);
    this.deps.metrics.prefixes.set({ ...labels, state: 'retiring' }, retention.retiring.length);
    const expiry = nextExpiry([...retention.retiring, ...hosts.retiring]);
    if (expiry !== undefined) result.requeueAfterMs = Math.max(1000, expiry - now.getTime() + 1000);
    if (resource.spec.mode === 'Audit') {
      // Audit writes nothing, and removes nothing either: objects written before stay as they are (status lists
      // them), since removing an allow rule is what breaks pulls. Deleting the resource removes them.
      outcome.audit = true;
    } else {
      await this.applyKubernetes(resource, planned, live, outcome, choice, retention, hosts.effective, addresses);
    }
    if (this.deps.azure && resource.kind === KIND_CLUSTER_ACR_ACCESS && needsAzureStep(resource)) {
      const { client, recorder } = this.deps;
      const azure = await reconcileAzure({ enforcer: this.deps.azure, client, recorder }, resource, {
        hosts: hosts.effective,
        addresses: { ...addresses, ipv4, ipv6 },
        now,
        graceMs: config.graceMs,
      });
      outcome.azure = azure.outcome;
      if (azure.wakeAfterMs !== undefined)
        result.requeueAfterMs = Math.min(result.requeueAfterMs ?? Infinity, azure.wakeAfterMs);
    }
  }

  private async applyKubernetes(
    resource: AnyAcrAccess,
    planned: ReturnType<typeof planChosen>,
    live: KubeObject[],
    outcome: Outcome,
    choice: BackendChoice,
    retention: ReturnType<typeof retain>,
    hosts: string[],
    addresses: AddressSet,
  ): Promise<void> {
    const desired = planned.objects;
    const owner = ownerOf(resource);
    let applied;
    try {
      await this.ensure(planned.prerequisites);
      applied = await applyAndPrune(this.deps.client, owner, desired, live, this.deps.onWritten);
    } catch (err) {
      this.deps.metrics.backendApplyErrors.inc({ backend: choice.chosen.map((c) => c.backend.name).join('+') });
      if (err instanceof NameConflictError) throw new Stalled('NameConflict', err.message, NAME_CONFLICT_RETRY_MS);
      if (err instanceof KubeApiError && [400, 403, 422].includes(err.code)) {
        // The API server will refuse the same write again: say why instead of retrying it hot.
        throw new Stalled('WriteRejected', `the API server refused a write: ${err.message}`, REJECTED_RETRY_MS);
      }
      throw err;
    }
    outcome.written = { prefixes: [...retention.effective], hosts };
    if (applied.applied.length + applied.deleted.length > 0) {
      const before = resource.status?.addresses?.serviceTagsChangeNumber;
      const feedNote =
        before !== undefined && before !== addresses.feed.changeNumber
          ? `, feed ${before}→${addresses.feed.changeNumber}`
          : `, feed ${addresses.feed.changeNumber}`;
      const note = `added ${retention.added.length} prefixes, retiring ${retention.startedRetiring.length}, removed ${retention.expired.length}${feedNote}; ${applied.applied.length} written, ${applied.deleted.length} deleted`;
      const notable = retention.startedRetiring.length + retention.expired.length > 0; // additions alone are routine
      await this.deps.recorder.record(ownerOf(resource), 'Normal', 'PoliciesUpdated', note, { notable });
      this.deps.logger.info(
        {
          key: resourceKey(resource),
          resource: ownerId(owner),
          written: applied.applied.length,
          deleted: applied.deleted.length,
        },
        note,
      );
    }
  }

  /** Prerequisites are created once per process (a POST that finds them is still a write request). */
  private async ensure(objects: KubeObject[]): Promise<void> {
    const missing = objects.filter((o) => !this.ensured.has(objectKey(o)));
    if (missing.length === 0) return;
    await ensurePrerequisites(this.deps.client, missing);
    for (const o of missing) this.ensured.add(objectKey(o));
  }

  private namespacesFor(resource: AnyAcrAccess): { selected: string[]; excluded: string[] } {
    if (resource.kind === KIND_ACR_ACCESS || !resource.spec.namespaceSelector) return { selected: [], excluded: [] };
    const { watchedNamespaces, operatorNamespace } = this.deps.config;
    const candidates = this.deps.caches
      .namespaces()
      .filter((ns) => !ns.metadata.deletionTimestamp)
      .filter((ns) => watchedNamespaces.length === 0 || watchedNamespaces.includes(ns.metadata.name));
    return selectNamespaces(resource.spec.namespaceSelector, candidates, operatorNamespace);
  }

  private async writeStatus(resource: AnyAcrAccess, outcome: Outcome, now: Date): Promise<void> {
    const status = buildStatus(resource, outcome, now);
    this.deps.metrics.observeConditions(resource, status.conditions);
    if (isDeepStrictEqual(status, resource.status)) return;
    await this.deps.client.applyStatus(
      {
        apiVersion: resource.apiVersion,
        kind: resource.kind,
        metadata: {
          name: resource.metadata.name,
          ...(resource.metadata.namespace ? { namespace: resource.metadata.namespace } : {}),
        },
        status,
      },
      { discardResponse: true },
    );
  }
}
