/**
 * What every Azure-writing backend shares: resource ids, conditional requests (If-Match / If-None-Match), a deadline
 * for long-running operations, and one typed error for a write that did not happen. @azure/arm-network 39 exposes
 * no `ifMatch` option, so the headers go through the operation's `requestOptions.headers`, which the SDK forwards
 * on PUT and DELETE alike.
 */
import { describeAzureError } from './errors.js';

/**
 * Why an Azure write did not happen. `Transient` (throttled past the SDK's retries, 5xx, network, no token) and
 * `Conflict` (someone kept changing the object under us) keep what is in force and are retried; the others need a
 * person: `Forbidden` (no role yet), `NotFound` (the target named in the spec does not exist), `NameConflict`
 * (an object we would create exists and is not ours), `Rejected` (ARM refused the content, or no room is left).
 */
export type ArmWriteFailure = 'Transient' | 'Conflict' | 'Forbidden' | 'NotFound' | 'NameConflict' | 'Rejected';

export class ArmWriteError extends Error {
  constructor(
    readonly kind: ArmWriteFailure,
    message: string,
    /** ARM's HTTP status, when it answered. */
    readonly status?: number,
    /** ARM's Retry-After, when it sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ArmWriteError';
  }

  /** Whether trying again later may succeed without anyone changing anything. */
  get transient(): boolean {
    return this.kind === 'Transient' || this.kind === 'Conflict';
  }
}

const CREDENTIAL_ERRORS = new Set([
  'AuthenticationError',
  'CredentialUnavailableError',
  'AggregateAuthenticationError',
]);

/** Turns an SDK or identity error into an ArmWriteError; `what` names the call for the message. */
export function classifyArmWriteError(err: unknown, what: string): ArmWriteError {
  if (err instanceof ArmWriteError) return err;
  const d = describeAzureError(err);
  const name = (err as { name?: unknown } | undefined)?.name;
  const message = `${what}: ${d.message}`;
  if (typeof name === 'string' && CREDENTIAL_ERRORS.has(name)) return new ArmWriteError('Transient', message);
  const retryAfterMs = retryAfterOf(err);
  switch (d.status) {
    case 401:
    case 403:
      return new ArmWriteError('Forbidden', message, d.status);
    case 404:
      return new ArmWriteError('NotFound', message, d.status);
    case 409:
    case 412:
      return new ArmWriteError('Conflict', message, d.status, retryAfterMs);
    case 400:
    case 422:
      return new ArmWriteError('Rejected', message, d.status);
    default:
      return new ArmWriteError('Transient', message, d.status, retryAfterMs);
  }
}

/** ARM's Retry-After (seconds or an HTTP date) on the error's response, in milliseconds. */
function retryAfterOf(err: unknown): number | undefined {
  const headers = (err as { response?: { headers?: { get?(n: string): string | undefined } } } | undefined)?.response
    ?.headers;
  const raw = typeof headers?.get === 'function' ? headers.get('retry-after') : undefined;
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The status an SDK error carries, and ARM's error code (e.g. `SecurityRuleConflict`). */
export function armStatus(err: unknown): { status?: number; code?: string } {
  const d = describeAzureError(err);
  return { ...(d.status !== undefined ? { status: d.status } : {}), ...(d.code ? { code: d.code } : {}) };
}

/** Write only if the object still has the ETag we read. */
export const ifMatch = (etag: string) => ({ requestOptions: { headers: { 'If-Match': etag } } });
/** Create only: fail with 412 if the object exists meanwhile. */
export const ifNoneMatch = () => ({ requestOptions: { headers: { 'If-None-Match': '*' } } });

/** What a long-running operation came to within the deadline. */
export type Settled<T> = { done: true; value: T } | { done: false };

interface PollerLikeish<T> extends PromiseLike<T> {
  submitted(): Promise<void>;
}

/**
 * Sends an LRO's first request, then polls it for at most `deadlineMs`. A worker must not sit on a slow Azure
 * operation: past the deadline the polling is aborted (the operation itself goes on in Azure) and the caller
 * requeues; the next sync reads the object and sees it `Updating` or done. The first request is not cut short: a
 * PUT aborted mid-flight may or may not have been applied, which the re-read resolves either way.
 */
export async function settle<T>(
  start: (abortSignal: AbortSignal) => PollerLikeish<T>,
  deadlineMs: number,
): Promise<Settled<T>> {
  const abort = new AbortController();
  const poller = start(abort.signal);
  await poller.submitted();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), deadlineMs)));
  const result = Promise.resolve(poller).then((value) => ({ value }));
  try {
    const first = await Promise.race([result, timeout]);
    if (first === 'timeout') {
      abort.abort();
      result.catch(() => undefined); // the abort rejects the poller; nobody waits for it any more
      return { done: false };
    }
    return { done: true, value: first.value };
  } finally {
    clearTimeout(timer);
  }
}

/** `/subscriptions/{s}/resourceGroups/{g}/providers/{namespace}/{type}/{name}[/{childType}/{childName}]`. */
export interface ArmResourceId {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  /** e.g. `Microsoft.Network`. */
  namespace: string;
  /** e.g. `networkSecurityGroups`. */
  type: string;
  name: string;
}

/** Parses a top-level resource id of the given type (case-insensitive, as ARM is); undefined when it is not one. */
export function parseArmResourceId(id: string, namespace: string, type: string): ArmResourceId | undefined {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/([^/]+)\/([^/]+)\/([^/]+)\/?$/i.exec(id);
  if (!m || m[3]!.toLowerCase() !== namespace.toLowerCase() || m[4]!.toLowerCase() !== type.toLowerCase()) {
    return undefined;
  }
  return { id, subscriptionId: m[1]!, resourceGroup: m[2]!, namespace: m[3]!, type: m[4]!, name: m[5]! };
}
