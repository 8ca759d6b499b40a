import type { AcrAccessStatus, AnyAcrAccess, PlaneCoverage } from '../api/types.js';
import { hostsNotInUse, type AddressSet } from '../addresses/address-set.js';
import type { RegistryEndpoints } from '../endpoints/endpoints.js';
import type { KubeObject } from '../kube/types.js';
import { CONDITIONS, setConditions, type ConditionInput } from './conditions.js';
import type { RetiringPrefix } from './retention.js';

export interface Outcome {
  /** A spec problem that retrying will not fix. */
  stalled?: { reason: string; message: string };
  /** Trouble with data (feed, DNS) while the last good state stays in force. */
  degraded?: { reason: string; message: string };
  /** Nothing could be resolved and nothing is in force. */
  noData?: { reason: string; message: string };
  endpoints?: RegistryEndpoints;
  addresses?: AddressSet;
  acceptedAt?: string;
  /** What is allowed now, per family. */
  effective?: { ipv4: number; ipv6: number };
  retiring?: RetiringPrefix[];
  objects?: KubeObject[];
  audit?: boolean;
  /** Objects in force now under this owner's controller reference. */
  live?: KubeObject[];
  /** Prefixes written in this reconcile: the next ledger entry. */
  written?: string[];
  /** Things a person should know that are not failures (fields not acted on yet, namespaces left out). */
  notes?: { reason: string; message: string }[];
}

/** The whole status for one reconcile; equal inputs give an equal status, so an idle resync writes nothing. */
export function buildStatus(resource: AnyAcrAccess, o: Outcome, now: Date): AcrAccessStatus {
  const generation = resource.metadata.generation ?? 0;
  const previous = resource.status ?? {};
  const conditions: ConditionInput[] = [];
  const add = (type: string, ok: boolean, reason: string, message: string) =>
    conditions.push({ type, status: ok ? 'True' : 'False', reason, message });
  const applied = !!o.objects && !o.stalled && !o.noData;

  if (o.stalled) {
    add(CONDITIONS.ready, false, o.stalled.reason, o.stalled.message);
    add(CONDITIONS.stalled, true, o.stalled.reason, o.stalled.message);
  } else if (o.noData) {
    add(CONDITIONS.ready, false, o.noData.reason, o.noData.message);
    add(CONDITIONS.reconciling, true, o.noData.reason, o.noData.message);
  } else {
    const n = (o.effective?.ipv4 ?? 0) + (o.effective?.ipv6 ?? 0);
    const verb = o.audit ? 'would allow (Audit mode: nothing written)' : 'allow';
    const kept = o.audit && o.live?.length ? `; ${o.live.length} written before Audit stay in force unchanged` : '';
    const notes = (o.notes ?? []).map((x) => `; ${x.message}`).join('');
    add(
      CONDITIONS.ready,
      true,
      o.audit ? 'Audited' : 'Applied',
      `${o.objects?.length ?? 0} NetworkPolicies ${verb} ${n} prefixes on the pod plane${kept}; the node plane (kubelet image pulls) is not covered by NetworkPolicy${notes}`,
    );
  }
  // Fields accepted but not acted on get a condition of their own, so nobody reads Ready as covering them.
  const unsupported = (o.notes ?? []).filter((n) => n.reason === 'NotImplemented');
  if (unsupported.length)
    add(CONDITIONS.unsupported, true, 'NotImplemented', unsupported.map((n) => n.message).join('; '));
  add(
    CONDITIONS.endpointsResolved,
    !!o.endpoints,
    o.endpoints ? 'Resolved' : ((o.stalled ?? o.noData)?.reason ?? 'Unknown'),
    o.endpoints ? `login server ${o.endpoints.loginServer}` : ((o.stalled ?? o.noData)?.message ?? ''),
  );
  add(
    CONDITIONS.addressesResolved,
    !!o.addresses && !o.degraded,
    o.degraded?.reason ?? (o.addresses ? 'Resolved' : ((o.stalled ?? o.noData)?.reason ?? 'Unknown')),
    o.degraded?.message ??
      (o.addresses
        ? `Service Tags changeNumber ${o.addresses.feed.changeNumber} (${o.addresses.feed.source})`
        : ((o.stalled ?? o.noData)?.message ?? '')),
  );
  add(
    CONDITIONS.policiesApplied,
    applied && !o.audit,
    applied ? (o.audit ? 'Audit' : 'Applied') : 'NotApplied',
    applied
      ? o.audit
        ? 'mode is Audit: nothing is written'
        : 'policies are up to date'
      : 'no policies were written in this reconcile',
  );
  add(
    CONDITIONS.degraded,
    !!o.degraded,
    o.degraded?.reason ?? 'AsExpected',
    o.degraded?.message ?? 'all sources answered',
  );

  const status: AcrAccessStatus = {
    observedGeneration: generation,
    conditions: setConditions(previous.conditions, conditions, generation, now),
  };
  const e = o.endpoints;
  if (e) {
    status.endpoints = {
      loginServer: e.loginServer,
      dataEndpoints: e.dataEndpoints,
      storage: e.storageHosts,
      regions: e.regions,
      otherHosts: e.otherHosts,
      ...(o.addresses && hostsNotInUse(o.addresses).length ? { notInUse: hostsNotInUse(o.addresses) } : {}),
    };
  } else if (previous.endpoints) status.endpoints = previous.endpoints;
  if (o.addresses && o.effective) {
    status.addresses = {
      serviceTagsChangeNumber: o.addresses.feed.changeNumber,
      feedSource: o.addresses.feed.source,
      prefixCount: o.effective.ipv4 + o.effective.ipv6,
      ipv4Prefixes: o.effective.ipv4,
      ipv6Prefixes: o.effective.ipv6,
      retiring: o.retiring ?? [],
      ...(o.addresses.feed.published ? { feedPublished: o.addresses.feed.published } : {}),
      ...(o.acceptedAt ? { feedAcceptedTime: o.acceptedAt.replace(/\.\d{3}Z$/, 'Z') } : {}),
    };
  } else if (previous.addresses) status.addresses = previous.addresses;
  // Status says what is in force: what was written now, else the live objects (Audit, a stall, no data).
  const inForce = applied && !o.audit ? (o.objects ?? []) : (o.live ?? []);
  const pod: PlaneCoverage = inForce.length > 0 ? 'Enforced' : o.audit && applied ? 'Audited' : 'NotCovered';
  status.planes = { pod, node: 'NotCovered' };
  status.objects = inForce.map(refOf).sort(byRef);
  const ledger = o.written ?? previous.applied?.prefixes;
  if (ledger) status.applied = { prefixes: ledger };
  return status;
}

function refOf(x: KubeObject): NonNullable<AcrAccessStatus['objects']>[number] {
  return {
    apiVersion: x.apiVersion,
    kind: x.kind,
    ...(x.metadata.namespace ? { namespace: x.metadata.namespace } : {}),
    name: x.metadata.name,
  };
}

function byRef(a: { namespace?: string; name: string }, b: { namespace?: string; name: string }): number {
  const ka = `${a.namespace ?? ''}/${a.name}`;
  const kb = `${b.namespace ?? ''}/${b.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
