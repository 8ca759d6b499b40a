import { KIND_ACR_ACCESS, type AnyAcrAccess, type BackendName } from '../api/types.js';
import type { EgressIntent, Plane } from '../intent/intent.js';
import { objectKey, type KubeObject } from '../kube/types.js';
import { calicoBackend } from './calico/backend.js';
import { ciliumBackend } from './cilium/backend.js';
import { networkPolicyBackend } from './networkpolicy/plan.js';
import type { Detection, KubernetesBackend, PlanOptions, ServedKinds } from './types.js';

export type ConcreteBackend = Exclude<BackendName, 'Auto'>;

/** One line of `status.backends`: what a backend is for this resource, and why. */
export interface BackendReport {
  name: ConcreteBackend;
  planes: Plane[];
  chosen: boolean;
  reason: string;
}

export interface BackendChoice {
  /** The backends to plan with, each with the planes it covers here. */
  chosen: { backend: KubernetesBackend; detection: Detection; planes: Plane[] }[];
  report: BackendReport[];
  /** A backend the spec names that cannot be used: the resource is Stalled with this. */
  refusal?: { reason: string; message: string };
  /** Planes the resource asks for that no chosen backend covers, with why. */
  uncovered: { plane: Plane; reason: string }[];
}

/** The planes a resource asks for: pods always for AcrAccess; for ClusterAcrAccess, by its selectors. */
export function planesOf(resource: AnyAcrAccess): Plane[] {
  if (resource.kind === KIND_ACR_ACCESS) return ['pod'];
  const planes: Plane[] = [];
  if (resource.spec.namespaceSelector) planes.push('pod');
  if (resource.spec.nodeSelector) planes.push('node');
  return planes;
}

/**
 * The backends this operator knows, what the cluster serves of them (re-detected periodically, so a CNI installed
 * later is picked up without a restart), and the choice for each resource. `enabled` limits the backends the
 * operator may use at all (`--backends`).
 */
export class BackendRegistry {
  private detections = new Map<ConcreteBackend, Detection>();

  constructor(
    readonly backends: readonly KubernetesBackend[],
    private readonly enabled: readonly ConcreteBackend[] = backends.map((b) => b.name),
  ) {}

  /** Re-runs detection; returns true when what is served changed. */
  async detect(served: ServedKinds): Promise<boolean> {
    const next = new Map<ConcreteBackend, Detection>();
    for (const b of this.backends) {
      next.set(
        b.name,
        this.enabled.includes(b.name)
          ? await b.detect(served)
          : {
              served: false,
              reason: `${b.name} is not enabled (acr-access run --backends, render --backend)`,
              kinds: [],
            },
      );
    }
    const changed = JSON.stringify([...next]) !== JSON.stringify([...this.detections]);
    this.detections = next;
    return changed;
  }

  detection(name: ConcreteBackend): Detection | undefined {
    return this.detections.get(name);
  }

  /** Kinds of every served backend, for informers. */
  servedKinds(): Detection['kinds'] {
    return [...this.detections.values()].filter((d) => d.served).flatMap((d) => d.kinds);
  }

  /**
   * `Auto` takes, per plane the resource asks for, every CNI backend (Cilium, Calico) the cluster serves for it;
   * only when none serves the pod plane does it fall back to Kubernetes NetworkPolicy, which isolates what it
   * selects. Named backends must be served, or the resource is refused naming why.
   */
  choose(resource: AnyAcrAccess): BackendChoice {
    const wanted = planesOf(resource);
    const named = (resource.spec.backends ?? ['Auto']).filter((b): b is ConcreteBackend => b !== 'Auto');
    const auto = named.length === 0;
    const choice: BackendChoice = { chosen: [], report: [], uncovered: [] };
    const unknown = named.filter((n) => !this.backends.some((b) => b.name === n));
    if (unknown.length) {
      choice.refusal = {
        reason: 'BackendUnavailable',
        message: `backends ${unknown.join(', ')} are not available in this version; use ${['Auto', ...this.backends.map((b) => b.name)].join(', ')}`,
      };
    }
    for (const backend of this.backends) {
      const detection = this.detections.get(backend.name) ?? {
        served: false,
        reason: 'not detected yet',
        kinds: [],
      };
      const planes = backend.planes.filter((p) => wanted.includes(p));
      const report: BackendReport = { name: backend.name, planes, chosen: false, reason: detection.reason };
      choice.report.push(report);
      if (!auto && !named.includes(backend.name)) {
        report.reason = 'not named in spec.backends';
        continue;
      }
      if (!detection.served) {
        if (!auto) choice.refusal ??= { reason: 'BackendUnavailable', message: `${backend.name}: ${detection.reason}` };
        continue;
      }
      if (planes.length === 0) {
        report.reason = `serves the ${backend.planes.join(' and ')} plane, which this resource does not ask for`;
        continue;
      }
      if (auto && backend.name === 'NetworkPolicy') continue; // decided below, once the CNIs are known
      report.chosen = true;
      choice.chosen.push({ backend, detection, planes });
    }
    if (auto) this.fallBackToNetworkPolicy(choice, wanted);
    for (const plane of wanted) {
      if (choice.chosen.some((c) => c.planes.includes(plane))) continue;
      const reasons = choice.report
        .filter((r) => r.name !== 'NetworkPolicy' || plane === 'pod')
        .map((r) => `${r.name}: ${r.reason}`);
      choice.uncovered.push({ plane, reason: reasons.join('; ') });
    }
    return choice;
  }

  private fallBackToNetworkPolicy(choice: BackendChoice, wanted: Plane[]): void {
    const np = choice.report.find((r) => r.name === 'NetworkPolicy');
    const backend = this.backends.find((b) => b.name === 'NetworkPolicy');
    const detection = this.detections.get('NetworkPolicy');
    if (!np || !backend || !detection?.served || !wanted.includes('pod')) return;
    const cni = choice.chosen.find((c) => c.planes.includes('pod'));
    if (cni) {
      np.reason = `not needed: ${cni.backend.name} covers the pod plane without isolating pods`;
      return;
    }
    np.chosen = true;
    np.reason = `${detection.reason}; no CNI backend serves the pod plane`;
    choice.chosen.push({ backend, detection, planes: ['pod'] });
  }
}

/** The backends this version ships. */
export const BUILT_IN_BACKENDS: readonly KubernetesBackend[] = [networkPolicyBackend, ciliumBackend, calicoBackend];

export interface Planned {
  /** Every object the chosen backends write for the resource, in a stable order. */
  objects: KubeObject[];
  /** Cluster-wide objects the chosen backends need first (never owned, never pruned). */
  prerequisites: KubeObject[];
  /** Planes for which at least one object was planned. */
  covered: Plane[];
}

/** Plans every intent with every chosen backend that covers its plane: the one planning step of render and run. */
export function planChosen(choice: BackendChoice, intents: EgressIntent[], opts: PlanOptions = {}): Planned {
  const objects: KubeObject[] = [];
  const prerequisites: KubeObject[] = [];
  const covered = new Set<Plane>();
  for (const { backend, detection, planes } of choice.chosen) {
    prerequisites.push(...(backend.prerequisites?.(detection) ?? []));
    for (const intent of intents) {
      if (!planes.includes(intent.plane)) continue;
      const planned = backend.plan(intent, detection, opts);
      if (planned.length) covered.add(intent.plane);
      objects.push(...planned);
    }
  }
  return { objects: unique(objects), prerequisites, covered: [...covered].sort() };
}

/**
 * What render assumes a cluster serves: Kubernetes NetworkPolicy and the backends it is told to plan for, at the
 * newest versions those backends know. The operator asks the API server instead.
 */
export function assumedServed(backends: readonly KubernetesBackend[]): ServedKinds {
  const kinds = new Set(backends.flatMap((b) => b.kinds.map((k) => `${k.apiVersion}/${k.kind}`)));
  kinds.add('networking.k8s.io/v1/NetworkPolicy');
  // The assumed cluster runs the newest versions the backends know, whose schemas have every field they write.
  return { serves: async (apiVersion, kind) => kinds.has(`${apiVersion}/${kind}`), hasField: async () => true };
}

/** Two planes of one resource plan the same shared object (a CIDR group): identical copies are one object. */
function unique(objects: KubeObject[]): KubeObject[] {
  const seen = new Map<string, string>();
  const out: KubeObject[] = [];
  for (const o of objects) {
    const key = objectKey(o);
    const body = JSON.stringify(o);
    const before = seen.get(key);
    if (before === undefined) {
      seen.set(key, body);
      out.push(o);
    } else if (before !== body) throw new Error(`two different objects planned as ${key}`);
  }
  return out;
}
