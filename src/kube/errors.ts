import { STATUS_CODES } from 'node:http';

/** A non-2xx answer from the API server, with the Status reason when the server sent one. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }

  /** From a response's status code, body text and headers. */
  static fromStatus(
    method: string,
    path: string,
    code: number,
    text: string,
    headers: Record<string, string | string[] | undefined>,
  ): KubeApiError {
    let reason = STATUS_CODES[code] ?? 'Unknown';
    let message = text.slice(0, 2000);
    try {
      const status = JSON.parse(text) as { reason?: string; message?: string };
      if (status.reason) reason = status.reason;
      if (status.message) message = status.message;
    } catch {
      // not a Status body; keep the raw text
    }
    const retryAfter = Number([headers['retry-after']].flat()[0]);
    return new KubeApiError(
      code,
      reason,
      `${method} ${path}: ${code} ${reason}: ${message}`,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 409;
}

export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 410;
}

/** Errors worth retrying as they are: throttling, server trouble, and the network. */
export function isTransient(err: unknown): boolean {
  if (err instanceof KubeApiError) return err.code === 429 || err.code >= 500;
  return true;
}

export function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? err : JSON.stringify(err));
}
