import type { AcrAccessStatus, AnyAcrAccess, PlaneCoverage } from '../api/types.js';
import { hostsNotInUse, type AddressSet } from '../addresses/address-set.js';
import type { RegistryEndpoints } from '../endpoints/endpoints.js';
import type { KubeObject } from '../kube/types.js';
import { CONDITIONS, conditionOf, setConditions, type ConditionInput } from './conditions.js';
import type { RetiringHost, RetiringPrefix } from './retention.js';
import type { BackendChoice } from '../backends/registry.js';
import type { Plane } from '../intent/intent.js';
import { VERDICT_REASONS } from '../intent/verdict.js';
import { ledgerIsEmpty } from '../backends/azure/enforcer.js';
import type { AzureOutcome } from './azure-step.js';

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
  /** Prefixes and hosts written in this reconcile: the next ledger entry. */
  written?: { prefixes: string[]; hosts: string[] };
  retiringHosts?: RetiringHost[];
  /** The backends chosen for the resource and why the others were not. */
  backends?: BackendChoice;
  /** Planes for which objects were planned in this reconcile. */
  covered?: Plane[];
  /** Things a person should know that are not failures (fields not acted on yet, namespaces left out). */
  notes?: { reason: string; message: string }[];
  /** The Azure step (a ClusterAcrAccess with spec.azure, or rules of its own still in Azure). */
  azure?: AzureOutcome;
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
  } else if (!o.objects && o.degraded) {
    // Nothing could be planned (an input failed) but objects are in force: they stay, and Ready says so.
    add(
      CONDITIONS.ready,
      true,
      'LastKnownGood',
      `${o.live?.length ?? 0} objects written before stay in force unchanged while ${o.degraded.message}`,
    );
  } else {
    const n = (o.effective?.ipv4 ?? 0) + (o.effective?.ipv6 ?? 0);
    const verb = o.audit ? 'would allow (Audit mode: nothing written)' : 'allow';
    const kept = o.audit && o.live?.length ? `; ${o.live.length} written before Audit stay in force unchanged` : '';
    const notes = (o.notes ?? []).map((x) => `; ${x.message}`).join('');
    const azure = o.azure ? `; Azure: ${azureSummary(o.azure)}` : '';
    const chosen = (o.backends?.chosen ?? []).map((c) => c.backend.name);
    const isolating = chosen.includes('NetworkPolicy')
      ? '; Kubernetes NetworkPolicy isolates the egress of the pods it selects'
      : '';
    add(
      CONDITIONS.ready,
      true,
      o.audit ? 'Audited' : 'Applied',
      `${o.objects?.length ?? 0} objects (${chosen.join(', ') || 'no backend'}) ${verb} ${n} prefixes${kept}; ${planeText(resource, o, 'pod')}; ${planeText(resource, o, 'node')}${isolating}${azure}${notes}`,
    );
  }
  // spec.azure gets a condition of its own, so nobody reads Ready as covering the Azure side.
  const azureNote = (o.notes ?? []).find((n) => n.reason === VERDICT_REASONS.azureNotConfigured);
  const azureBefore = conditionOf(previous.conditions, CONDITIONS.azureApplied);
  if (o.azure) {
    const a = o.azure;
    const notYet = a.problem ?? a.pending;
    add(
      CONDITIONS.azureApplied,
      !notYet,
      notYet?.reason ?? (a.audit ? 'Audit' : 'Applied'),
      notYet?.message ?? azureSummary(a),
    );
  } else if (azureNote) add(CONDITIONS.azureApplied, false, azureNote.reason, azureNote.message);
  else if (azureBefore && !o.stalled && !ledgerIsEmpty(previous.applied?.azure)) {
    // This reconcile did not reach Azure (an input failed): what it said last still holds.
    conditions.push({ ...azureBefore });
  }
  const why = o.stalled ?? o.noData ?? o.degraded;
  add(
    CONDITIONS.endpointsResolved,
    !!o.endpoints,
    o.endpoints ? 'Resolved' : (why?.reason ?? 'Unknown'),
    o.endpoints ? `login server ${o.endpoints.loginServer}` : (why?.message ?? ''),
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
  const degraded = o.degraded ?? o.azure?.problem;
  add(CONDITIONS.degraded, !!degraded, degraded?.reason ?? 'AsExpected', degraded?.message ?? 'all sources answered');

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
      ...(o.retiringHosts?.length ? { retiring: o.retiringHosts } : {}),
      ...(e.access?.publicNetworkAccess ? { publicNetworkAccess: e.access.publicNetworkAccess } : {}),
      ...(e.access ? { privateEndpoints: e.access.privateEndpoints } : {}),
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
  const kubernetes = (plane: Plane): PlaneCoverage => {
    if (applied && !o.audit) return o.covered?.includes(plane) ? 'Enforced' : 'NotCovered';
    const before = o.live?.length ? previous.planes?.[plane] : undefined;
    if (before === 'Enforced') return 'Enforced';
    return applied && o.covered?.includes(plane) ? 'Audited' : 'NotCovered';
  };
  // Azure rules sit where all traffic leaves the network, kubelet pulls and pods alike: they cover both planes.
  const coverage = (plane: Plane): PlaneCoverage => {
    const k = kubernetes(plane);
    if (k === 'Enforced' || azureBy(o).length) return 'Enforced';
    if (!o.azure && !ledgerIsEmpty(previous.applied?.azure) && previous.planes?.[plane] === 'Enforced')
      return 'Enforced';
    return o.azure?.targets.some((t) => t.state === 'Audited') ? 'Audited' : k;
  };
  status.planes = { pod: coverage('pod'), node: coverage('node') };
  if (o.backends)
    status.backends = [
      ...o.backends.report.map((r) => ({ name: r.name, planes: r.planes, chosen: r.chosen, reason: r.reason })),
      ...(o.azure?.targets ?? []).map((t) => ({
        name: t.kind,
        planes: ['pod', 'node'] as Plane[],
        chosen: true,
        reason: `named in spec.azure: ${t.state}`,
      })),
    ];
  else if (previous.backends) status.backends = previous.backends;
  status.objects = inForce.map(refOf).sort(byRef);
  const ledger = o.written ?? previous.applied;
  if (o.azure) {
    status.applied = { ...ledger, tags: o.azure.tags, azure: o.azure.ledger };
    status.azure = {
      targets: o.azure.targets,
      retiringTags: o.azure.retiringTags,
      retiringEgressIPs: o.azure.retiringEgressIPs,
    };
  } else {
    if (ledger) status.applied = ledger;
    if (previous.azure) status.azure = previous.azure;
  }
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

/** One clause of the Ready message per plane: who covers it, or why nobody does. */
function planeText(resource: AnyAcrAccess, o: Outcome, plane: Plane): string {
  const name = plane === 'pod' ? 'the pod plane (in-cluster registry clients)' : 'the node plane (kubelet image pulls)';
  const chosen = (o.backends?.chosen ?? []).filter((c) => c.planes.includes(plane)).map((c) => c.backend.name);
  const by = [...(o.covered?.includes(plane) ? chosen : []), ...azureBy(o)];
  if (by.length) return `${name} is covered by ${by.join(', ')}`;
  if (plane === 'node' && resource.kind === 'AcrAccess')
    return `${name} is not covered: an AcrAccess governs pods only; a ClusterAcrAccess with spec.nodeSelector covers nodes`;
  if (plane === 'node' && !('nodeSelector' in resource.spec && resource.spec.nodeSelector))
    return `${name} is not covered: no spec.nodeSelector`;
  const why = o.backends?.uncovered.find((u) => u.plane === plane)?.reason;
  return `${name} is not covered${why ? `: ${why}` : ': no objects were planned for it'}`;
}

/** The kinds of Azure target enforced now. */
function azureBy(o: Outcome): string[] {
  return [...new Set((o.azure?.targets ?? []).filter((t) => t.state === 'Enforced').map((t) => t.kind))];
}

function azureSummary(a: AzureOutcome): string {
  const count = (state: string) => a.targets.filter((t) => t.state === state).length;
  const parts = [`${count('Enforced')} targets up to date`];
  if (count('Audited')) parts.push(`${count('Audited')} audited (nothing written)`);
  if (count('Pending')) parts.push(`${count('Pending')} with a write still running`);
  if (count('Failed')) parts.push(`${count('Failed')} failed`);
  if (a.retiringTags.length) parts.push(`${a.retiringTags.length} service tags retiring`);
  return parts.join(', ');
}
