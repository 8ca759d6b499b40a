import { readFile } from 'node:fs/promises';
import { dump, loadAll } from 'js-yaml';
import { InvalidResourceError, parseAcrAccess } from '../api/validate.js';
import type { AnyAcrAccess } from '../api/types.js';
import { DnsResolver } from '../addresses/dns.js';
import {
  EmbeddedSnapshotSource,
  FileSource,
  SNAPSHOT_MAX_AGE_DAYS,
  feedAgeDays,
  type ServiceTagSource,
} from '../addresses/sources.js';
import type { ServiceTagFeed } from '../addresses/servicetags.js';
import { planNetworkPolicies } from '../backends/networkpolicy/plan.js';
import { SpecEndpointResolver } from '../endpoints/endpoints.js';
import { resolveResource } from '../intent/pipeline.js';
import type { KubeObject } from '../kube/types.js';

export interface RenderOptions {
  files: string[];
  serviceTags?: string;
  backend: 'networkpolicy';
  output: 'yaml' | 'json';
  /** off: DNS is not consulted (resources asking for it get Service Tags only, with a note); system; or servers. */
  dns: 'off' | 'system' | string[];
  /** Namespaces for ClusterAcrAccess pod-plane policies (a cluster would resolve its namespaceSelector). */
  namespaces: string[];
  now?: Date;
  readStdin?: () => Promise<string>;
}

export class RenderError extends Error {}

export interface RenderResult {
  text: string;
  objects: KubeObject[];
  notes: string[];
}

/** Reads AcrAccess/ClusterAcrAccess documents and returns the objects they plan to, or throws RenderError. */
export async function render(opts: RenderOptions): Promise<RenderResult> {
  const notes: string[] = [];
  const resources = await readResources(opts);
  const feeds = new Map<string, Promise<ServiceTagFeed>>();
  const feedFor = (cloudName: string, source: () => ServiceTagSource) => {
    if (!feeds.has(cloudName)) {
      feeds.set(
        cloudName,
        source()
          .load()
          .then((feed) => {
            const age = feedAgeDays(feed, opts.now);
            if (!opts.serviceTags && age !== undefined && age > SNAPSHOT_MAX_AGE_DAYS) {
              notes.push(
                `warning: the embedded Service Tags snapshot is ${age} days old (${feed.source}, changeNumber ${feed.changeNumber}); pass --service-tags with a current weekly file`,
              );
            }
            return feed;
          }),
      );
    }
    return feeds.get(cloudName)!;
  };
  const dns = opts.dns === 'off' ? undefined : new DnsResolver(opts.dns === 'system' ? {} : { servers: opts.dns });
  const objects: KubeObject[] = [];
  for (const { resource, where } of resources) {
    let effective = resource;
    if (!dns && (resource.spec.addressSources ?? []).includes('DNS')) {
      notes.push(
        `note: ${where}: DNS addresses are not resolved offline (pass --dns system or --dns-server); using Service Tags only`,
      );
      const only = (resource.spec.addressSources ?? []).filter((s) => s !== 'DNS');
      if (only.length === 0)
        throw new RenderError(
          `${where}: addressSources is DNS only, and DNS is off; pass --dns system or --dns-server`,
        );
      effective = { ...resource, spec: { ...resource.spec, addressSources: only } };
    }
    try {
      const resolved = await resolveResource(effective, {
        endpoints: new SpecEndpointResolver(),
        feedFor: (e) =>
          feedFor(e.cloud.name, () =>
            opts.serviceTags ? new FileSource(opts.serviceTags) : new EmbeddedSnapshotSource(e.cloud.name),
          ),
        ...(dns ? { dns } : {}),
        namespacesFor: async () => opts.namespaces,
      });
      for (const intent of resolved.intents) objects.push(...planNetworkPolicies(intent));
      if (resource.kind === 'ClusterAcrAccess' && opts.namespaces.length === 0) {
        notes.push(
          `note: ${where}: no --namespace given, so no pod-plane NetworkPolicies are rendered for this ClusterAcrAccess`,
        );
      }
    } catch (err) {
      throw new RenderError(`${where}: ${(err as Error).message}`);
    }
  }
  const text =
    opts.output === 'json'
      ? JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2) + '\n'
      : objects.map((o) => dump(o, { lineWidth: -1, noRefs: true })).join('---\n');
  return { text, objects, notes };
}

async function readResources(opts: RenderOptions): Promise<{ resource: AnyAcrAccess; where: string }[]> {
  const out: { resource: AnyAcrAccess; where: string }[] = [];
  const problems: string[] = [];
  for (const file of opts.files) {
    const text =
      file === '-'
        ? await (opts.readStdin ?? (() => Promise.reject(new Error('no standard input'))))()
        : await readFile(file, 'utf8').catch((err: Error) => {
            throw new RenderError(`${file}: cannot be read (${err.message})`);
          });
    let docs: unknown[];
    try {
      docs = loadAll(text);
    } catch (err) {
      throw new RenderError(`${file}: not valid YAML: ${(err as Error).message}`);
    }
    docs.forEach((doc, i) => {
      if (doc === null || doc === undefined) return;
      const label = describeDoc(doc);
      const where = `${file}: document ${i + 1}${label ? ` (${label})` : ''}`;
      try {
        out.push({ resource: parseAcrAccess(doc), where });
      } catch (err) {
        if (!(err instanceof InvalidResourceError)) throw err;
        for (const e of err.errors) problems.push(`${where}: ${e.path ? `${e.path}: ` : ''}${e.message}`);
      }
    });
  }
  if (problems.length) throw new RenderError(problems.join('\n'));
  if (out.length === 0) throw new RenderError(`no AcrAccess or ClusterAcrAccess documents in ${opts.files.join(', ')}`);
  return out;
}

function describeDoc(doc: unknown): string {
  if (typeof doc !== 'object' || doc === null) return '';
  const d = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const name = [d.metadata?.namespace, d.metadata?.name].filter((x) => typeof x === 'string').join('/');
  return [typeof d.kind === 'string' ? d.kind : '', name].filter(Boolean).join(' ');
}
