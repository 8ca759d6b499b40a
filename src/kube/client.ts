import { readFileSync } from 'node:fs';
// Narrow modules, not the package index, which loads every generated model (see config.ts).
import type { KubeConfig } from '@kubernetes/client-node';
import { type HttpMethod, RequestContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import { PatchStrategy } from '@kubernetes/client-node/dist/patch.js';
import { fetch, type Dispatcher } from 'undici';
import { KubeApiError, isNotFound } from './errors.js';
import { Discovery, type ResourceInfo } from './discovery.js';
import type { KubeObject, ObjectList, ObjectRef } from './types.js';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface ClientOptions {
  /** The one field manager this client applies with. */
  fieldManager: string;
  /** Called after every request, for metrics. */
  onResponse?: (method: string, code: number) => void;
  /** Sent on every request, watches included (default `acr-access-operator/<version>`), so audit logs name us. */
  userAgent?: string;
}

/** `acr-access-operator/<version>`, the version read once from package.json (../../ from src/kube and dist/kube). */
export const USER_AGENT = `acr-access-operator/${packageVersion()}`;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown'; // a repackaged build without package.json still runs, and says so in the audit log
  }
}

export interface DeletePreconditions {
  uid?: string;
  resourceVersion?: string;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
}

/**
 * A thin JSON client over client-node's configuration (auth, TLS) with one shared undici dispatcher.
 * Bodies are plain JSON rather than client-node's typed models, so a desired object can be compared with the live
 * one field by field, and the /status subresource is reachable for any kind.
 */
const DISPATCHER_RENEW_MS = 5 * 60_000;

export class KubeClient {
  readonly discovery: Discovery;
  private dispatcher: { value: Dispatcher; renewAt: number } | undefined;

  /** The kubeconfig as given, except that every request it authenticates carries this client's User-Agent. */
  readonly kubeConfig: KubeConfig;

  constructor(
    kubeConfig: KubeConfig,
    readonly options: ClientOptions,
  ) {
    this.kubeConfig = withUserAgent(kubeConfig, options.userAgent ?? USER_AGENT);
    this.discovery = new Discovery((path) => this.request('GET', path));
  }

  get fieldManager(): string {
    return this.options.fieldManager;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the kubeconfig');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), method as HttpMethod);
    await this.kubeConfig.applySecurityAuthentication(ctx);
    const dispatcher = this.sharedDispatcher(ctx.getDispatcher());
    const headers = ctx.getHeaders();
    headers.Accept = 'application/json';
    if (opts.body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
    const response = await fetch(url, {
      method,
      headers,
      dispatcher,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
    this.options.onResponse?.(method, response.status);
    if (!response.ok) throw await KubeApiError.fromResponse(method, url.pathname, response);
    return (await response.json()) as T;
  }

  /**
   * client-node builds a new undici Agent on every applySecurityAuthentication call, which means a new TLS
   * connection per request. One Agent is kept and reused instead, renewed every few minutes so rotated client
   * certificates are picked up; the replaced one finishes its in-flight requests (watches) before it closes.
   */
  private sharedDispatcher(fresh: Dispatcher | undefined): Dispatcher | undefined {
    if (!fresh) return undefined;
    const now = Date.now();
    if (this.dispatcher && now < this.dispatcher.renewAt) {
      if (fresh !== this.dispatcher.value) void fresh.close().catch(() => undefined);
      return this.dispatcher.value;
    }
    const old = this.dispatcher?.value;
    this.dispatcher = { value: fresh, renewAt: now + DISPATCHER_RENEW_MS };
    if (old && old !== fresh) void old.close().catch(() => undefined);
    return fresh;
  }

  /** The URL path of a collection (no name) or of one object. */
  async path(ref: Omit<ObjectRef, 'name'> & { name?: string | undefined }, subresource?: string): Promise<string> {
    const info = await this.resource(ref.apiVersion, ref.kind);
    return objectPath(info, ref.namespace, ref.name, subresource);
  }

  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const info = await this.discovery.resource(apiVersion, kind);
    if (!info) throw new Error(`the API server does not serve ${kind} in ${apiVersion} (is its CRD installed?)`);
    return info;
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', await this.path(ref));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Lists every page; `resourceVersion` is the list's, for starting a watch. */
  async list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; pageSize?: number } = {},
  ): Promise<ObjectList<T>> {
    const path = await this.path({ apiVersion, kind, namespace: opts.namespace });
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string;
    do {
      const page = await this.request<{ items: T[]; metadata: { resourceVersion: string; continue?: string } }>(
        'GET',
        path,
        {
          query: {
            labelSelector: opts.labelSelector,
            fieldSelector: opts.fieldSelector,
            limit: opts.pageSize ?? 500,
            continue: cont,
          },
        },
      );
      // List items carry no apiVersion/kind; put them back so every object is self-describing.
      for (const item of page.items) items.push({ ...item, apiVersion, kind });
      resourceVersion = page.metadata.resourceVersion;
      cont = page.metadata.continue || undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  /** Server-side apply with this client's field manager; conflicts are forced, as a controller owns its fields. */
  async apply<T extends KubeObject = KubeObject>(
    obj: KubeObject,
    opts: { dryRun?: boolean; subresource?: 'status' } = {},
  ): Promise<T> {
    const path = await this.path(
      { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name },
      opts.subresource,
    );
    return this.request<T>('PATCH', path, {
      query: { fieldManager: this.fieldManager, force: true, dryRun: opts.dryRun ? 'All' : undefined },
      body: obj,
      contentType: PatchStrategy.ServerSideApply,
    });
  }

  /** A JSON merge patch (RFC 7386) of one object; `metadata.resourceVersion` in the patch makes it conditional. */
  async mergePatch<T extends KubeObject = KubeObject>(obj: KubeObject, patch: unknown): Promise<T> {
    const path = await this.path({
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
    });
    return this.request<T>('PATCH', path, {
      query: { fieldManager: this.fieldManager },
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  applyStatus<T extends KubeObject = KubeObject>(obj: KubeObject): Promise<T> {
    return this.apply<T>(obj, { subresource: 'status' });
  }

  async create<T extends KubeObject = KubeObject>(obj: KubeObject, opts: { dryRun?: boolean } = {}): Promise<T> {
    const path = await this.path({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace });
    return this.request<T>('POST', path, {
      query: { fieldManager: this.fieldManager, dryRun: opts.dryRun ? 'All' : undefined },
      body: obj,
    });
  }

  /** Deletes with preconditions (uid, resourceVersion) so only the object that was checked is removed. */
  async delete(ref: ObjectRef, pre: DeletePreconditions = {}): Promise<boolean> {
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (pre.uid || pre.resourceVersion) {
      body.preconditions = { uid: pre.uid, resourceVersion: pre.resourceVersion };
    }
    if (pre.propagationPolicy) body.propagationPolicy = pre.propagationPolicy;
    try {
      await this.request('DELETE', await this.path(ref), { body });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}

/**
 * client-node's Watch (used by the reflector) sets no User-Agent, so undici's own ("undici") would reach the audit
 * log. Both it and request() authenticate through applySecurityAuthentication: a view of the kubeconfig whose
 * version of it adds the header covers every request. Everything else reads through to the original.
 */
function withUserAgent(kubeConfig: KubeConfig, userAgent: string): KubeConfig {
  const view = Object.create(kubeConfig) as KubeConfig;
  view.applySecurityAuthentication = async (context: RequestContext) => {
    await kubeConfig.applySecurityAuthentication(context);
    context.setHeaderParam('User-Agent', userAgent);
  };
  return view;
}

export function objectPath(info: ResourceInfo, namespace?: string, name?: string, subresource?: string): string {
  const parts = [info.groupVersionPath];
  if (info.namespaced) {
    if (namespace) parts.push('namespaces', encodeURIComponent(namespace));
  } else if (namespace) {
    throw new Error(`${info.kind} is cluster-scoped; it cannot be addressed in namespace ${namespace}`);
  }
  parts.push(info.plural);
  if (name) parts.push(encodeURIComponent(name));
  if (subresource) parts.push(subresource);
  return parts.join('/');
}
