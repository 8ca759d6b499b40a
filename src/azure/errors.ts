/**
 * Errors of the Azure side that the rest of the operator classifies. Kept free of SDK imports on purpose:
 * intent/verdict.ts (loaded by `render`) imports this module, and the Azure SDKs load only when ARM is configured.
 */

/** Why Azure Resource Manager could not answer now. */
export type DiscoveryFailureReason = 'DiscoveryFailed' | 'DiscoveryForbidden';

/**
 * ARM did not answer usefully right now (throttled past the SDK's retries, 5xx, a network or token failure, or
 * no permission yet). Not a spec problem: the last applied policies stay in force, the resource is Degraded, and
 * the read is tried again later. A registry that does not exist is an EndpointError instead (Stalled).
 */
export class DiscoveryError extends Error {
  constructor(
    readonly reason: DiscoveryFailureReason,
    message: string,
    /** The HTTP status ARM answered with, when it answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DiscoveryError';
  }
}

/** What an SDK or identity error says, for messages: `429 TooManyRequests: …`, or the error message alone. */
export function describeAzureError(err: unknown): { status?: number; code?: string; message: string } {
  // The SDKs throw a RestError whose code and message come from ARM's error body ({ error: { code, message } }).
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown } | undefined;
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const text = typeof e?.message === 'string' ? e.message : String(err);
  const prefix = [status, code].filter((x) => x !== undefined).join(' ');
  return {
    ...(status !== undefined ? { status } : {}),
    ...(code !== undefined ? { code } : {}),
    message: `${prefix ? `${prefix}: ` : ''}${oneLine(text)}`,
  };
}

/** Identity errors span many lines (troubleshooting links); conditions and Events want one. */
function oneLine(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > 600 ? `${line.slice(0, 597)}...` : line;
}
