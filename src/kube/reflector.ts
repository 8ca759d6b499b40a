import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import type { KubeClient } from './client.js';
import { KubeApiError } from './errors.js';
import { keyOf, type KubeObject } from './types.js';

export interface ReflectorHandlers<T extends KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(obj: T, old: T): void;
  onDelete?(obj: T): void;
}

export interface ReflectorOptions<T extends KubeObject> extends ReflectorHandlers<T> {
  client: KubeClient;
  apiVersion: string;
  kind: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Each watch asks the server to end it after a random time in [min, 2·min] so no connection lives forever. */
  minWatchTimeoutSeconds?: number;
  backoff?: BackoffOptions;
  /** Called for failures the reflector retries by itself; for logs and metrics. */
  onError?(err: unknown): void;
  /**
   * Objects as metadata only (PartialObjectMetadata: no spec, data or status), for kinds where only a change is of
   * interest, such as a feed ConfigMap whose megabytes of data would otherwise arrive with every event.
   */
  metadataOnly?: boolean;
  /**
   * Trims each object before it is stored and handed to the handlers (default: `stripBookkeeping`). The cache is
   * most of the operator's retained memory; keep only what its readers use.
   */
  transform?(obj: T): T;
}

export interface ReflectorStats {
  lists: number;
  watches: number;
  errors: number;
  lastActivity: number;
}

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number; reason?: string; message?: string };
}

/**
 * List+watch of one kind into a local store, in the manner of client-go's reflector: paginated LIST, then WATCH
 * from the list's resourceVersion with bookmarks and a bounded server timeout; 410 Gone (as HTTP status or as an
 * ERROR event) forces a relist whose diff against the store emits the missed adds, updates and deletes; any other
 * failure backs off with jitter and resumes from the last resourceVersion seen. Handlers are never allowed to throw
 * into the watch.
 */
export class Reflector<T extends KubeObject = KubeObject> {
  private readonly store = new Map<string, T>();
  private resourceVersion = '';
  private synced = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private current: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private syncWaiters: (() => void)[] = [];
  readonly stats: ReflectorStats = { lists: 0, watches: 0, errors: 0, lastActivity: Date.now() };

  constructor(private readonly opts: ReflectorOptions<T>) {}

  /** Starts the loop; resolves once the first LIST is in the store. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.waitForSync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.current?.abort();
    await this.loop;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.store.get(keyOf({ name, namespace }));
  }

  list(): T[] {
    return [...this.store.values()];
  }

  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        const outcome = await this.watchOnce();
        this.stats.lastActivity = Date.now();
        if (outcome === 'gone') this.resourceVersion = '';
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof KubeApiError && err.code === 410) {
          this.resourceVersion = '';
          continue;
        }
        this.stats.errors++;
        this.safe(() => this.opts.onError?.(err));
        const retryAfterMs = err instanceof KubeApiError && err.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
        const delay = Math.max(retryAfterMs, backoffDelay(failures++, this.opts.backoff ?? DEFAULT_BACKOFF));
        await sleep(delay, this.abort.signal);
      }
    }
  }

  private async relist(): Promise<void> {
    const { client, apiVersion, kind, namespace, labelSelector, fieldSelector } = this.opts;
    const listed = await client.list<T>(apiVersion, kind, {
      ...(namespace ? { namespace } : {}),
      ...(labelSelector ? { labelSelector } : {}),
      ...(fieldSelector ? { fieldSelector } : {}),
      ...(this.opts.metadataOnly ? { accept: METADATA_ONLY_LIST } : {}),
    });
    this.stats.lists++;
    this.stats.lastActivity = Date.now();
    const seen = new Set<string>();
    for (const obj of listed.items) {
      const key = keyOf(obj.metadata);
      seen.add(key);
      this.upsert(key, obj);
    }
    for (const [key, old] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.safe(() => this.opts.onDelete?.(old));
      }
    }
    this.resourceVersion = listed.resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  /** One watch connection. Resolves when the server ends it normally; rejects on failure. */
  private async watchOnce(): Promise<'ended' | 'gone'> {
    const { client, apiVersion, kind, namespace } = this.opts;
    const path = await client.path({ apiVersion, kind, namespace });
    const minTimeout = this.opts.minWatchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(minTimeout * (1 + Math.random()));
    this.stats.watches++;
    const controller = new AbortController();
    this.current = controller;
    if (this.stopped) controller.abort();
    let gone = false;
    let failure: KubeApiError | undefined;
    const onEvent = ({ type, object }: { type: string; object: KubeObject }): void => {
      const event = object as WatchEvent['object'];
      this.stats.lastActivity = Date.now();
      if (type === 'ERROR') {
        if (event.code === 410) gone = true;
        else
          failure = new KubeApiError(event.code ?? 500, event.reason ?? 'WatchError', event.message ?? 'watch error');
        controller.abort();
        return;
      }
      if (event.metadata?.resourceVersion) this.resourceVersion = event.metadata.resourceVersion;
      if (type === 'BOOKMARK') return;
      const obj = this.asKind(event as T);
      const key = keyOf(obj.metadata);
      if (type === 'DELETED') {
        const old = this.store.get(key) ?? (this.opts.transform ?? stripBookkeeping)(obj);
        this.store.delete(key);
        this.safe(() => this.opts.onDelete?.(old));
      } else {
        this.upsert(key, obj);
      }
    };
    await client.watch(
      path,
      {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
      },
      onEvent,
      { signal: controller.signal, ...(this.opts.metadataOnly ? { accept: METADATA_ONLY } : {}) },
    );
    if (failure) throw failure;
    return gone ? 'gone' : 'ended';
  }

  /** PartialObjectMetadata says kind PartialObjectMetadata: the store keeps the kind it watches. */
  private asKind(obj: T): T {
    if (this.opts.metadataOnly) {
      obj.apiVersion = this.opts.apiVersion;
      obj.kind = this.opts.kind;
    }
    return obj;
  }

  private upsert(key: string, received: T): void {
    const obj = (this.opts.transform ?? stripBookkeeping)(received);
    const old = this.store.get(key);
    this.store.set(key, obj);
    if (!old) this.safe(() => this.opts.onAdd?.(obj));
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) {
      this.safe(() => this.opts.onUpdate?.(obj, old));
    }
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.stats.errors++;
      try {
        this.opts.onError?.(err);
      } catch {
        // an error handler that throws has nowhere left to report to
      }
    }
  }
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 };
const METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const METADATA_ONLY_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * The default cache transform, as controller-runtime's TransformStripManagedFields: server-side apply's
 * managedFields and kubectl's last-applied copy of the whole object are bookkeeping no reader uses, and together
 * often larger than the rest of the object. Mutates and returns `obj` (freshly parsed, not shared yet).
 */
export function stripBookkeeping<T extends KubeObject>(obj: T): T {
  delete obj.metadata.managedFields;
  const annotations = obj.metadata.annotations;
  if (annotations && LAST_APPLIED in annotations) {
    delete annotations[LAST_APPLIED];
    if (Object.keys(annotations).length === 0) delete obj.metadata.annotations;
  }
  const body = obj as KubeObject;
  if (body.spec !== undefined) intern(body.spec);
  if (body.status !== undefined) intern(body.status);
  return obj;
}

const interned = new Map<string, string>();
const MAX_INTERNED = 200_000;

/**
 * Replaces short strings with one shared copy. Every cached policy and every status ledger spells out the same few
 * thousand prefixes, and JSON.parse makes a fresh string for each: at 1000 resources that was some 400,000 strings
 * (12 MiB) for a few thousand distinct values. Objects and arrays are updated in place (freshly parsed, not shared
 * yet). The table is dropped when it grows past MAX_INTERNED.
 */
export function intern<V>(value: V): V {
  if (typeof value === 'string') {
    if (value.length > 64) return value;
    const shared = interned.get(value);
    if (shared !== undefined) return shared as V;
    if (interned.size >= MAX_INTERNED) interned.clear();
    interned.set(value, value);
    return value;
  }
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = intern(value[i] as unknown);
  } else {
    const record = value as Record<string, unknown>;
    for (const k in record) record[k] = intern(record[k]);
  }
  return value;
}

/**
 * For objects the operator writes and compares (`needsApply`: spec, labels, annotations, ownerReferences), indexes
 * (controller reference, uid) and deletes with preconditions (uid, resourceVersion): those, and nothing else.
 * Status, creationTimestamp, generation and the like are dropped.
 */
export function keepOwnedFields<T extends KubeObject>(obj: T): T {
  const m = stripBookkeeping(obj).metadata;
  const metadata: KubeObject['metadata'] = { name: m.name };
  for (const field of ['namespace', 'uid', 'resourceVersion', 'labels', 'annotations', 'ownerReferences'] as const)
    if (m[field] !== undefined) metadata[field] = m[field] as never;
  const kept: KubeObject = { apiVersion: obj.apiVersion, kind: obj.kind, metadata };
  if (obj.spec !== undefined) kept.spec = obj.spec;
  return kept as T;
}

/**
 * Identity, labels and whether it is going away: all that is read of Namespaces (namespaceSelector) and of the
 * feed ConfigMap (a change only triggers a re-read), whose 4 MB of data would otherwise stay in the cache.
 */
export function keepIdentity<T extends KubeObject>(obj: T): T {
  const m = obj.metadata;
  const metadata: KubeObject['metadata'] = { name: m.name };
  for (const field of ['namespace', 'uid', 'resourceVersion', 'labels', 'deletionTimestamp'] as const)
    if (m[field] !== undefined) metadata[field] = m[field] as never;
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata } as T;
}
