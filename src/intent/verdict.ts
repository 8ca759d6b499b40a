/**
 * What the operator decides about a resource before and around resolution, as one pure function, so `render` and
 * the reconciler reach the same decision from the same code ("One pipeline", DESIGN.md): whether it is refused
 * (Stalled, nothing resolved or written), whether anything is written (Audit), and which facts to report (fields
 * accepted but not acted on yet, a ClusterAcrAccess that selects no namespaces).
 *
 * Self-contained on purpose: it imports only types and the error classes resolution throws, never a client.
 */
import { KIND_ACR_ACCESS, type AnyAcrAccess } from '../api/types.js';
import { AddressError } from '../addresses/address-set.js';
import { DnsError } from '../addresses/dns.js';
import { FeedError } from '../addresses/servicetags.js';
import { DiscoveryError } from '../azure/errors.js';
import { EndpointError } from '../endpoints/endpoints.js';

/** A condition reason (stable, CamelCase, for machines) and a message (for people). */
export interface VerdictReason {
  reason: string;
  message: string;
}

/** Operator-wide settings the verdict depends on (`acr-access run` flags; `render` accepts the same). */
export interface VerdictConfig {
  /** Login-server globs (`*.azurecr.io`, `?` for one character); empty allows every registry. */
  allowedRegistries: readonly string[];
  /** Namespaces the operator watches and writes; empty or absent means all. */
  watchedNamespaces?: readonly string[];
  /**
   * Whether registries named by `spec.registry.resourceId` are discovered from Azure Resource Manager (the operator
   * with --azure-subscription). Without it such a resource is refused (DiscoveryUnavailable); render never has it.
   */
  armDiscovery?: boolean;
  /** Whether spec.azure is acted on (the operator with --azure-subscription). Render never writes to Azure. */
  azure?: boolean;
}

export interface Verdict {
  /** Set when the resource is refused: report it as Stalled=True with this reason; resolve and write nothing. */
  refusal?: VerdictReason;
  /** Facts to report alongside the result (render: stderr; operator: Event and log), in a stable order. */
  notes: VerdictReason[];
  /** Whether the planned objects are written (apply and prune). False when refused, in Audit mode, or unwatched. */
  write: boolean;
}

/** Stable reasons, so callers and tests never spell them twice. */
export const VERDICT_REASONS = {
  registryNotAllowed: 'RegistryNotAllowed',
  discoveryUnavailable: 'DiscoveryUnavailable',
  azureNotConfigured: 'AzureNotConfigured',
  audit: 'Audit',
  noNamespaceSelector: 'NoNamespaceSelector',
  namespaceNotWatched: 'NamespaceNotWatched',
} as const;

/**
 * The decision for one valid (schema-checked) resource. Refusals are checked in a fixed order and the first one
 * wins, because a Stalled condition carries one reason: the registry must be known before it can be checked
 * against the allow-list. Backends are chosen next, by the backend registry (they depend on the cluster).
 */
export function verdictFor(resource: AnyAcrAccess, config: VerdictConfig): Verdict {
  const spec = resource.spec;
  const notes: VerdictReason[] = [];
  const refusal = refusalFor(resource, config);
  if (refusal) return { refusal, notes, write: false };

  const azure = azureNote(resource, config);
  if (azure) notes.push(azure);
  let write = true;
  const watched = config.watchedNamespaces ?? [];
  if (resource.kind === KIND_ACR_ACCESS) {
    const ns = resource.metadata.namespace ?? 'default';
    if (watched.length > 0 && !watched.includes(ns)) {
      write = false;
      notes.push({
        reason: VERDICT_REASONS.namespaceNotWatched,
        message: `namespace ${ns} is not among the operator's watched namespaces (${watched.join(', ')}): the operator does not see this AcrAccess`,
      });
    }
  } else if (!resource.spec.namespaceSelector) {
    notes.push({
      reason: VERDICT_REASONS.noNamespaceSelector,
      message:
        'spec.namespaceSelector is not set, so no namespace is selected and no pod-plane objects are written; set it to open egress for pods of the selected namespaces',
    });
  }
  if (spec.mode === 'Audit') {
    write = false;
    notes.push({
      reason: VERDICT_REASONS.audit,
      message: 'mode is Audit: the policies are computed and reported, nothing is written',
    });
  }
  return { notes, write };
}

/**
 * The namespaces whose pods get pod-plane objects: an AcrAccess's own; for a ClusterAcrAccess, those its
 * namespaceSelector matched (`selected`, found by the caller: label matching in the operator, `--namespace` in
 * render), none without a selector, and only watched ones. Sorted, without duplicates.
 */
export function podPlaneNamespaces(
  resource: AnyAcrAccess,
  selected: readonly string[],
  config: Pick<VerdictConfig, 'watchedNamespaces'>,
): string[] {
  if (resource.kind === KIND_ACR_ACCESS) return [resource.metadata.namespace ?? 'default'];
  if (!resource.spec.namespaceSelector) return [];
  const watched = config.watchedNamespaces ?? [];
  return [...new Set(selected)].filter((n) => watched.length === 0 || watched.includes(n)).sort();
}

/**
 * Classifies an error thrown while resolving a resource, with the reason the operator reports. `stalled` means
 * retrying will not help (a spec problem: Stalled); otherwise it is a data problem (feed, DNS) that may pass.
 * `outage` marks a source that cannot answer for now (ARM): keep what is in force, report Degraded, try later.
 */
export function resolutionFailure(err: unknown): VerdictReason & { stalled: boolean; outage?: boolean } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof EndpointError) return { reason: 'EndpointsUnresolvable', message, stalled: true };
  if (err instanceof DiscoveryError) return { reason: err.reason, message, stalled: false, outage: true };
  if (err instanceof AddressError) return { reason: 'AddressesUnresolvable', message, stalled: true };
  if (err instanceof DnsError) return { reason: 'DNSFailed', message, stalled: false };
  if (err instanceof FeedError) return { reason: 'FeedUnavailable', message, stalled: false };
  return { reason: 'ResolutionFailed', message, stalled: false };
}

/** `*.azurecr.io` → /^.*\.azurecr\.io$/i: `*` any run of characters, `?` one, everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function refusalFor(resource: AnyAcrAccess, config: VerdictConfig): VerdictReason | undefined {
  const registry = resource.spec.registry;
  if (!registry.loginServer) {
    // The CRD requires exactly one of the two. With ARM discovery the login server is known only once resolved:
    // the caller checks it then, with registryRefusal.
    if (config.armDiscovery) return undefined;
    return {
      reason: VERDICT_REASONS.discoveryUnavailable,
      message:
        'spec.registry.resourceId alone needs endpoint discovery from Azure Resource Manager, which is not configured (the operator discovers registries when run with --azure-subscription; render is offline); give spec.registry.loginServer and spec.registry.regions',
    };
  }
  // Whether the named backends can be used depends on the cluster: the backend registry decides that.
  return registryRefusal(registry.loginServer, config);
}

/**
 * A login server outside the allowed registries, refused. Also applied to a login server discovered from ARM, so
 * naming a registry by resource id never gets around --allowed-registries.
 */
export function registryRefusal(
  loginServer: string,
  config: Pick<VerdictConfig, 'allowedRegistries'>,
): VerdictReason | undefined {
  const patterns = config.allowedRegistries;
  if (patterns.length > 0 && !patterns.some((p) => globToRegExp(p).test(loginServer))) {
    return {
      reason: VERDICT_REASONS.registryNotAllowed,
      message: `registry ${loginServer} is not in the operator's allowed registries (${patterns.join(', ')})`,
    };
  }
  return undefined;
}

/** spec.azure when nothing here writes to Azure: said once, so nobody reads Ready as covering it. */
function azureNote(resource: AnyAcrAccess, config: VerdictConfig): VerdictReason | undefined {
  if (resource.kind === KIND_ACR_ACCESS || resource.spec.azure === undefined || config.azure) return undefined;
  return {
    reason: VERDICT_REASONS.azureNotConfigured,
    message:
      'spec.azure is not acted on: Azure-side rules are written only by the operator running with Azure Resource Manager access (--azure-subscription; Helm: azure.subscriptionId); render prints the Kubernetes objects only',
  };
}
