import http from 'node:http';
import type { Metrics } from './metrics.js';

export interface HealthChecks {
  /** Liveness: the process is doing its job (watches alive). */
  healthy(): boolean;
  /** Readiness: informers have synced. */
  ready(): boolean;
}

/** /healthz, /readyz and /metrics on one port. */
export async function startHealthServer(address: string, checks: HealthChecks, metrics: Metrics): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/healthz') || url.startsWith('/readyz')) {
      const ok = url.startsWith('/healthz') ? checks.healthy() : checks.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ok\n');
      return;
    }
    if (url.startsWith('/metrics')) {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
      return;
    }
    res.writeHead(404).end();
  });
  const [host, port] = splitAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

function splitAddress(address: string): [string | undefined, number] {
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i) : undefined;
  return [host, Number(address.slice(i + 1))];
}
