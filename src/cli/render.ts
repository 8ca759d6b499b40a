/**
 * `acr-access render`: the operator's decisions and resolution for AcrAccess/ClusterAcrAccess documents, offline.
 * The verdict (refusals, Audit, notes) and the resolution are the reconciler's own code; only the inputs differ (files
 * and the embedded snapshot instead of shared caches), so what is printed is what the operator writes.
 */
import type { Readable } from 'node:stream';
import type { AnyAcrAccess } from '../api/types.js';
import { DnsResolver } from '../addresses/dns.js';
import { EmbeddedSnapshotSource, FileSource, SNAPSHOT_MAX_AGE_DAYS, feedAgeDays } from '../addresses/sources.js';
import type { ServiceTagFeed } from '../addresses/servicetags.js';
import { feedBoundsProblem } from '../addresses/feed-validation.js';
import {
  BUILT_IN_BACKENDS,
  BackendRegistry,
  assumedServed,
  planChosen,
  type ConcreteBackend,
} from '../backends/registry.js';
import { SpecEndpointResolver, type RegistryEndpoints } from '../endpoints/endpoints.js';
import { CLOUDS, cloudForLoginServer, type CloudName, type CloudProfile } from '../endpoints/clouds.js';
import { SYSTEM_NAMESPACES, namesNamespace } from '../controller/scope.js';
import { resolveResource } from '../intent/pipeline.js';
import { podPlaneNamespaces, resolutionFailure, verdictFor, type VerdictConfig } from '../intent/verdict.js';
import { objectKey, type KubeObject } from '../kube/types.js';
import { CliError, EXIT, usageError } from './errors.js';
import { BACKEND_NAMES, type DnsChoice, type FeedChoice, type OutputFormat, type RenderBackend } from './flags.js';
import { readInputs } from './input.js';
import { OutputWriter, type RenderedResource } from './output.js';

export interface RenderOptions {
  /** Files, directories (read recursively) and `-` for `stdin`. */
  files: string[];
  /** The backend the cluster is taken to serve besides Kubernetes NetworkPolicy. */
  backend: RenderBackend;
  output: OutputFormat;
  /** off: DNS is not consulted (resources asking for it get Service Tags only, with a note); system; or resolver IPs. */
  dns: DnsChoice;
  /** Namespaces a ClusterAcrAccess's namespaceSelector is taken to match (a cluster would resolve the selector). */
  namespaces: string[];
  /** Feeds, at most one file per cloud; `embedded` serves the clouds no file covers. Default: embedded only. */
  serviceTags?: FeedChoice[];
  /** As `acr-access run --allowed-registries`: login-server globs; empty allows all. */
  allowedRegistries?: string[];
  /** As `acr-access run --watch-namespaces`; empty means all. */
  watchedNamespaces?: string[];
  now?: Date;
  stdin?: Readable;
  /**
   * Where the output goes as each resource is rendered (the CLI: stdout). Then `text` and `objects` stay empty and
   * each resource's objects are dropped once written, so memory does not grow with the input.
   */
  write?: (chunk: string) => void;
  /** Input caps, for tests; the defaults are MAX_INPUT_BYTES and MAX_DOCUMENTS. */
  maxBytes?: number;
  maxDocuments?: number;
}

export interface RenderResult {
  /** What goes to stdout (empty when `write` was given). */
  text: string;
  /** Every object the operator would write, in order (empty when `write` was given). */
  objects: KubeObject[];
  /** Lines for stderr, each starting with `note:`, `warning:` or `error:`. */
  notes: string[];
  resources: RenderedResource[];
  /** EXIT.failed when a resource was refused or not resolved (its objects are left out), else EXIT.ok. */
  exitCode: typeof EXIT.ok | typeof EXIT.failed;
}

/**
 * Renders every resource in the input. Throws CliError for usage errors (EXIT.usage) and invalid documents
 * (EXIT.invalid); a refused or unresolvable resource is reported in `notes` and `exitCode`, and the rest still render.
 */
export async function render(opts: RenderOptions): Promise<RenderResult> {
  const input = await readInputs(opts.files, {
    ...(opts.stdin ? { stdin: opts.stdin } : {}),
    ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}),
    ...(opts.maxDocuments ? { maxDocuments: opts.maxDocuments } : {}),
  });
  const notes = [...input.notes];
  const feeds = await Feeds.open(opts.serviceTags, notes, opts.now);
  // Before anything is printed: output is streamed, and a usage error should not follow half of it.
  for (const { resource, where } of input.documents) {
    const missing = feeds.missingFor(resource);
    if (missing) throw usageError(`${where}: ${missing}`);
  }
  const config: VerdictConfig = {
    allowedRegistries: opts.allowedRegistries ?? [],
    watchedNamespaces: opts.watchedNamespaces ?? [],
  };
  const dns = opts.dns === 'off' ? undefined : new DnsResolver(opts.dns === 'system' ? {} : { servers: opts.dns });
  const resources: RenderedResource[] = [];
  // The operator may use NetworkPolicy and the backend render is asked for, and the cluster is taken to serve both.
  const enabled = [...new Set<ConcreteBackend>(['NetworkPolicy', BACKEND_NAMES[opts.backend]])];
  const registry = new BackendRegistry(BUILT_IN_BACKENDS, enabled);
  await registry.detect(assumedServed(BUILT_IN_BACKENDS.filter((b) => enabled.includes(b.name))));
  const printed = new Set<string>();
  const chunks: string[] = [];
  const output = new OutputWriter(opts.output, opts.write ?? ((chunk) => chunks.push(chunk)));
  const objects: KubeObject[] = [];
  let failed = false;
  const fail = (r: RenderedResource, where: string, reason: string, message: string) => {
    r.failure = { reason, message };
    notes.push(`error: ${where}: ${reason}: ${message}`);
    failed = true;
  };

  for (const { resource, where } of input.documents) {
    const verdict = verdictFor(resource, config);
    const rendered: RenderedResource = { id: idOf(resource), verdict, objects: [] };
    resources.push(rendered);
    await renderOne(rendered, resource, where);
    output.add(rendered);
    if (opts.write) {
      rendered.objects = [];
      delete rendered.resolved;
    } else objects.push(...rendered.objects);
  }
  output.end();
  return { text: chunks.join(''), objects, notes, resources, exitCode: failed ? EXIT.failed : EXIT.ok };

  async function renderOne(rendered: RenderedResource, resource: AnyAcrAccess, where: string): Promise<void> {
    const verdict = rendered.verdict;
    // Exactly what the operator reports: Stalled=True with this reason and message.
    const refusal = verdict.refusal ?? (rendered.choice = registry.choose(resource)).refusal;
    if (refusal) {
      rendered.refusal = refusal;
      notes.push(`error: ${where}: Stalled ${refusal.reason}: ${refusal.message}`);
      failed = true;
      return;
    }
    const choice = rendered.choice!;
    for (const n of verdict.notes) notes.push(`note: ${where}: ${n.reason}: ${n.message}`);
    const sources = resource.spec.addressSources ?? ['ServiceTags', 'DNS'];
    let effective = resource;
    if (!dns && sources.includes('DNS')) {
      const only = sources.filter((s) => s !== 'DNS');
      if (only.length === 0) {
        fail(
          rendered,
          where,
          'DNSUnavailable',
          'addressSources is DNS only and DNS is off; pass --dns system or --dns <server>',
        );
        return;
      }
      notes.push(
        `note: ${where}: DNS addresses are not resolved offline (pass --dns system or --dns <server>); using ${only.join(', ')} only`,
      );
      effective = { ...resource, spec: { ...resource.spec, addressSources: only } };
    }
    const namespaces = podPlaneNamespaces(resource, opts.namespaces, config);
    const selector = resource.kind === 'ClusterAcrAccess' ? resource.spec.namespaceSelector : undefined;
    if (selector && opts.namespaces.length === 0) {
      notes.push(
        `note: ${where}: no --namespace given, so no pod-plane objects are rendered for this ClusterAcrAccess`,
      );
    }
    // As the reconciler's scope: a system namespace is selected only when the selector names it.
    const excluded = selector ? namespaces.filter((n) => isGuarded(n) && !namesNamespace(selector, n)) : [];
    if (excluded.length > 0) {
      notes.push(
        `note: ${where}: namespaces ${excluded.join(', ')} match namespaceSelector but are system or operator namespaces, selected only when named by kubernetes.io/metadata.name`,
      );
    }
    try {
      const resolved = await resolveResource(effective, {
        endpoints: new SpecEndpointResolver(),
        feedFor: (e) => feeds.feedFor(e),
        ...(dns ? { dns } : {}),
        namespacesFor: async () => namespaces.filter((n) => !excluded.includes(n)),
      });
      rendered.resolved = resolved;
      if (verdict.write) {
        const planned = planChosen(choice, resolved.intents);
        // Cluster-wide prerequisites (a Calico Tier) are written once, before the first policy that needs them.
        const first = planned.prerequisites.filter((p) => !printed.has(objectKey(p)));
        for (const p of first) printed.add(objectKey(p));
        rendered.objects = [...first, ...planned.objects];
      }
    } catch (err) {
      if (err instanceof CliError) throw new CliError(err.exitCode, `${where}: ${err.message}`);
      const f = resolutionFailure(err);
      fail(rendered, where, f.reason, f.message);
    }
  }
}

const isGuarded = (n: string) => (SYSTEM_NAMESPACES as readonly string[]).includes(n);

const idOf = (r: AnyAcrAccess) =>
  `${r.kind} ${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name}`;

/** The feeds `--service-tags` names: files are read up front (a bad one is a usage error), snapshots on first use. */
class Feeds {
  private readonly embedded = new Map<CloudName, Promise<ServiceTagFeed>>();

  private constructor(
    private readonly files: Map<string, ServiceTagFeed>,
    private readonly withEmbedded: boolean,
    private readonly notes: string[],
    /** Warn about an old snapshot only when it was a fall-back; `--service-tags embedded` means it deliberately. */
    private readonly warnAge: boolean,
    private readonly now?: Date,
  ) {}

  static async open(choices: readonly FeedChoice[] | undefined, notes: string[], now?: Date): Promise<Feeds> {
    const warnAge = choices === undefined;
    choices ??= [{ kind: 'embedded' }];
    const files = new Map<string, ServiceTagFeed>();
    for (const choice of choices) {
      if (choice.kind !== 'file') continue;
      const feed = await new FileSource(choice.path).load().catch((err: Error) => {
        throw usageError(`--service-tags file:${choice.path}: ${err.message}`);
      });
      // Validated as the operator validates a feed: one it would refuse is not rendered from.
      const outOfBounds = feedBoundsProblem(feed);
      if (outOfBounds)
        throw usageError(`--service-tags file:${choice.path}: refused (FeedOutOfBounds): ${outOfBounds}`);
      const other = files.get(feed.cloud);
      if (other)
        throw usageError(
          `--service-tags: ${other.source} and ${feed.source} are both for cloud ${feed.cloud}; give one file per cloud`,
        );
      files.set(feed.cloud, feed);
    }
    return new Feeds(
      files,
      choices.some((c) => c.kind === 'embedded'),
      notes,
      warnAge,
      now,
    );
  }

  /** Why no feed serves the resource's cloud, if none does (a cloud that cannot be told is left to resolution). */
  missingFor(resource: AnyAcrAccess): string | undefined {
    const { cloud, loginServer } = resource.spec.registry;
    const profile = cloud ? CLOUDS[cloud] : loginServer ? cloudForLoginServer(loginServer) : undefined;
    return profile && this.missing(profile);
  }

  private missing(cloud: CloudProfile): string | undefined {
    if (this.withEmbedded || this.files.has(cloud.serviceTagsCloud)) return undefined;
    const given = [...this.files.keys()].join(', ');
    return `no Service Tags feed for ${cloud.name}: --service-tags gives ${given} only; add file:<path> with the ${cloud.serviceTagsCloud} weekly file, or embedded`;
  }

  async feedFor(e: RegistryEndpoints): Promise<ServiceTagFeed> {
    const file = this.files.get(e.cloud.serviceTagsCloud);
    if (file) return file;
    const missing = this.missing(e.cloud);
    if (missing) throw usageError(missing);
    let feed = this.embedded.get(e.cloud.name);
    if (!feed) {
      feed = new EmbeddedSnapshotSource(e.cloud.name).load().then((f) => {
        const age = feedAgeDays(f, this.now);
        if (this.warnAge && age !== undefined && age > SNAPSHOT_MAX_AGE_DAYS) {
          this.notes.push(
            `warning: the embedded Service Tags snapshot for ${e.cloud.name} (${f.source.replace(/^embedded snapshot /, '')}, changeNumber ${f.changeNumber}) is ${age} days old; Azure updates the ranges weekly: pass --service-tags file:<path> with a current weekly file`,
          );
        }
        return f;
      });
      this.embedded.set(e.cloud.name, feed);
    }
    return feed;
  }
}
