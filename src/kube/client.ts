import { readFileSync } from 'node:fs';
// Narrow modules, not the package index, which loads every generated model (see config.ts).
import type { KubeConfig } from '@kubernetes/client-node';
import { RequestContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import { PatchStrategy } from '@kubernetes/client-node/dist/patch.js';
import { Agent, type Dispatcher } from 'undici';
import { KubeApiError, isNotFound } from './errors.js';
import { Discovery, type ResourceInfo } from './discovery.js';
import type { KubeObject, ObjectList, ObjectRef } from './types.js';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** The Accept header (default application/json), e.g. for metadata-only (PartialObjectMetadata) answers. */
  accept?: string;
  signal?: AbortSignal;
  /** The caller does not read the response: its body is drained unparsed and the request resolves to undefined. */
  discardResponse?: boolean;
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
/**
 * How long the headers client-node's authentication produced are reused. Token files and exec plugins are thus
 * consulted at most this often (client-go re-reads a token file once a minute); a 401 drops them at once.
 */
const AUTH_REUSE_MS = 10_000;

interface Auth {
  headers: Record<string, string>;
  dispatcher: Dispatcher;
}

export class KubeClient {
  readonly discovery: Discovery;
  private dispatcher: { value: Dispatcher; renewAt: number } | undefined;
  private auth: { value: Promise<Auth>; until: number } | undefined;
  /** The API server's origin, and the path it is served under (a proxy's prefix, or nothing). */
  private readonly origin: string;
  private readonly prefix: string;
  private readonly base: KubeConfig;

  /**
   * The kubeconfig as given, except that what it authenticates shares this client's connection and carries its
   * User-Agent.
   */
  readonly kubeConfig: KubeConfig;
  private readonly userAgent: string;

  constructor(
    kubeConfig: KubeConfig,
    readonly options: ClientOptions,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the kubeconfig');
    const server = new URL(cluster.server);
    this.origin = server.origin;
    this.prefix = server.pathname.replace(/\/$/, '');
    this.userAgent = options.userAgent ?? USER_AGENT;
    this.base = kubeConfig;
    this.kubeConfig = sharingAuth(kubeConfig, () => this.authenticate());
    this.discovery = new Discovery((path) => this.request('GET', path));
  }

  get fieldManager(): string {
    return this.options.fieldManager;
  }

  /**
   * One request on the shared dispatcher, through undici's `request` rather than `fetch` (no WHATWG Request,
   * Response and streams per call). A 401 drops the reused authentication and is tried once more.
   */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    let url = this.prefix + path;
    const query = opts.query
      ? Object.entries(opts.query)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
          .join('&')
      : '';
    if (query) url += `${path.includes('?') ? '&' : '?'}${query}`;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    let redirects = 0;
    for (let attempt = 0; ; attempt++) {
      const auth = await this.authenticate();
      const headers: Record<string, string> = { ...auth.headers, accept: opts.accept ?? 'application/json' };
      if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
      const response = await auth.dispatcher.request({
        origin: this.origin,
        path: url,
        method,
        headers,
        body,
        signal: opts.signal,
      });
      this.options.onResponse?.(method, response.statusCode);
      if (response.statusCode === 401 && attempt === 0) {
        await response.body.dump().catch(() => undefined);
        this.auth = undefined;
        continue;
      }
      // undici's request does not follow redirects as fetch did; the API server sends one for an OpenAPI v3 URL
      // whose content hash has changed (a CRD installed or updated since the root document was read).
      const location = response.headers.location;
      if (method === 'GET' && [301, 302, 307, 308].includes(response.statusCode) && location && redirects < 5) {
        await response.body.dump().catch(() => undefined);
        const next = new URL(String(location), this.origin + url);
        if (next.origin === this.origin) {
          url = next.pathname + next.search;
          redirects++;
          attempt--;
          continue;
        }
      }
      if (response.statusCode < 200 || response.statusCode > 299) {
        const text = await response.body.text().catch(() => '');
        throw KubeApiError.fromStatus(method, path.split('?')[0]!, response.statusCode, text, response.headers);
      }
      if (opts.discardResponse) {
        for await (const chunk of response.body) void chunk; // drained, never joined or parsed
        return undefined as T;
      }
      return (await response.body.json()) as T;
    }
  }

  /**
   * One watch request: `onEvent` is called with each event as it arrives (one JSON object per line). Resolves when
   * the server ends the watch, or when nothing (not even a bookmark) has arrived for `idleTimeoutMs`, or on abort;
   * rejects when the request fails (a KubeApiError for an HTTP error). Lines are split on bytes and each is parsed
   * once: no WHATWG streams, no readline, no per-chunk strings.
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (event: { type: string; object: KubeObject }) => void,
    opts: { signal: AbortSignal; accept?: string; idleTimeoutMs?: number },
  ): Promise<void> {
    const params = Object.entries({ ...query, watch: true })
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    const auth = await this.authenticate();
    const idle = new AbortController();
    const signal = AbortSignal.any([opts.signal, idle.signal]);
    let timer: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), opts.idleTimeoutMs ?? 30_000);
      timer.unref();
    };
    touch();
    try {
      const response = await auth.dispatcher.request({
        origin: this.origin,
        path: `${this.prefix}${path}?${params}`,
        method: 'GET',
        headers: { ...auth.headers, accept: opts.accept ?? 'application/json' },
        signal,
      });
      this.options.onResponse?.('WATCH', response.statusCode);
      if (response.statusCode === 401) this.auth = undefined;
      if (response.statusCode !== 200) {
        const text = await response.body.text().catch(() => '');
        throw KubeApiError.fromStatus('WATCH', path, response.statusCode, text, response.headers);
      }
      let pending: Buffer[] = [];
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        touch();
        let start = 0;
        for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
          const piece = chunk.subarray(start, nl);
          const line = pending.length ? Buffer.concat([...pending, piece]) : piece;
          pending = [];
          start = nl + 1;
          if (line.length > 0) onEvent(JSON.parse(line.toString('utf8')) as { type: string; object: KubeObject });
        }
        if (start < chunk.length) pending.push(chunk.subarray(start));
      }
    } catch (err) {
      if (signal.aborted) return; // stopped, or idle for too long: the watch simply ends
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The headers and dispatcher client-node's authentication gives (User-Agent included), reused for AUTH_REUSE_MS:
   * client-node reads the CA and client key files and builds a new undici Agent on every call.
   */
  private authenticate(): Promise<Auth> {
    const now = Date.now();
    if (this.auth && now < this.auth.until) return this.auth.value;
    const value = (async () => {
      const ctx = new RequestContext(this.origin + this.prefix, 'GET');
      await this.base.applySecurityAuthentication(ctx);
      ctx.setHeaderParam('User-Agent', this.userAgent);
      return { headers: ctx.getHeaders(), dispatcher: this.sharedDispatcher(ctx.getDispatcher()) };
    })();
    const auth = { value, until: now + AUTH_REUSE_MS };
    this.auth = auth;
    value.catch(() => {
      if (this.auth === auth) this.auth = undefined;
    });
    return value;
  }

  /**
   * client-node builds a new undici Agent on every applySecurityAuthentication call, which means a new TLS
   * connection per request. One Agent is kept and reused instead, renewed every few minutes so rotated client
   * certificates are picked up; the replaced one finishes its in-flight requests (watches) before it closes.
   * Without TLS options (plain HTTP) client-node gives no Agent: a plain one is made.
   */
  private sharedDispatcher(fresh: Dispatcher = new Agent()): Dispatcher {
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
    opts: {
      namespace?: string;
      labelSelector?: string;
      fieldSelector?: string;
      pageSize?: number;
      accept?: string;
    } = {},
  ): Promise<ObjectList<T>> {
    const path = await this.path({ apiVersion, kind, namespace: opts.namespace });
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string;
    do {
      const page = await this.request<{ items: T[] | null; metadata: { resourceVersion: string; continue?: string } }>(
        'GET',
        path,
        {
          query: {
            labelSelector: opts.labelSelector,
            fieldSelector: opts.fieldSelector,
            limit: opts.pageSize ?? 500,
            continue: cont,
          },
          ...(opts.accept ? { accept: opts.accept } : {}),
        },
      );
      // List items carry no apiVersion/kind; put them back so every object is self-describing. (An empty
      // metadata-only list says items: null.)
      for (const item of page.items ?? []) items.push({ ...item, apiVersion, kind });
      resourceVersion = page.metadata.resourceVersion;
      cont = page.metadata.continue || undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  /** Server-side apply with this client's field manager; conflicts are forced, as a controller owns its fields. */
  async apply<T extends KubeObject = KubeObject>(
    obj: KubeObject,
    opts: { dryRun?: boolean; subresource?: 'status'; discardResponse?: boolean } = {},
  ): Promise<T> {
    const path = await this.path(
      { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name },
      opts.subresource,
    );
    return this.request<T>('PATCH', path, {
      query: { fieldManager: this.fieldManager, force: true, dryRun: opts.dryRun ? 'All' : undefined },
      body: obj,
      contentType: PatchStrategy.ServerSideApply,
      ...(opts.discardResponse ? { discardResponse: true } : {}),
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

  /** `discardResponse`: the stored object is not read (it resolves to undefined), so it is not parsed either. */
  applyStatus<T extends KubeObject = KubeObject>(
    obj: KubeObject,
    opts: { discardResponse?: boolean } = {},
  ): Promise<T> {
    return this.apply<T>(obj, { subresource: 'status', ...opts });
  }

  async create<T extends KubeObject = KubeObject>(
    obj: KubeObject,
    opts: { dryRun?: boolean; discardResponse?: boolean } = {},
  ): Promise<T> {
    const path = await this.path({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace });
    return this.request<T>('POST', path, {
      query: { fieldManager: this.fieldManager, dryRun: opts.dryRun ? 'All' : undefined },
      body: obj,
      ...(opts.discardResponse ? { discardResponse: true } : {}),
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
 * client-node's Watch (used by the reflector) authenticates through applySecurityAuthentication, which would build
 * a new Agent (a new TLS connection) per watch and send no User-Agent ("undici" in the audit log). A view of the
 * kubeconfig whose version of it hands out the client's reused headers (User-Agent included) and its one dispatcher
 * covers every request. Everything else reads through to the original.
 */
function sharingAuth(kubeConfig: KubeConfig, shared: () => Promise<Auth>): KubeConfig {
  const view = Object.create(kubeConfig) as KubeConfig;
  view.applySecurityAuthentication = async (context: RequestContext) => {
    const auth = await shared();
    for (const [k, v] of Object.entries(auth.headers)) context.setHeaderParam(k, v);
    context.setDispatcher(auth.dispatcher);
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
