import type { ConcreteBackend } from '../backends/registry.js';
/**
 * Flag values shared by `render` and `run`, parsed once with messages that name the flag. Light on purpose (no
 * client imports), so `--help` and `render` start fast.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { InvalidArgumentError } from 'commander';
import { usageError } from './errors.js';

export const OUTPUT_FORMATS = ['yaml', 'json', 'name', 'table'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `a,b` and repeated flags → one list. */
export const list = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A commander argParser for repeatable, comma-separated namespace names (RFC 1123 labels, as Kubernetes wants). */
export function namespaceList(value: string, previous: string[] = []): string[] {
  const names = list(value);
  const bad = names.find((n) => !RFC1123_LABEL.test(n));
  if (bad !== undefined)
    throw new InvalidArgumentError(
      `"${bad}" is not a namespace name: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit`,
    );
  return [...previous, ...names];
}

/** Where a Service Tags feed comes from, as `--service-tags` spells it in render and run. */
/** `render --backend`: the backend the cluster is taken to serve besides Kubernetes NetworkPolicy. */
export const BACKEND_NAMES = {
  networkpolicy: 'NetworkPolicy',
  cilium: 'Cilium',
  calico: 'Calico',
} as const satisfies Record<string, ConcreteBackend>;
export type RenderBackend = keyof typeof BACKEND_NAMES;

export type FeedChoice = { kind: 'embedded' } | { kind: 'file'; path: string };

/** `embedded` or `file:<path>`; `configmap:` needs a cluster, and a bare path is ambiguous: both are usage errors. */
export function feedChoice(value: string, previous: FeedChoice[] = []): FeedChoice[] {
  if (value === 'embedded') return [...previous, { kind: 'embedded' }];
  if (value.startsWith('file:') && value.length > 'file:'.length)
    return [...previous, { kind: 'file', path: value.slice('file:'.length) }];
  if (value.startsWith('configmap:'))
    throw new InvalidArgumentError(
      'a configmap feed is read from a cluster, and render works offline; pass file:<path> with the weekly file, or embedded',
    );
  throw new InvalidArgumentError(`use file:${value || '<path>'} for a weekly Service Tags file, or embedded`);
}

/** What `--dns` asks for: no DNS, the system's resolver, or these resolvers (IP or IP:port, as c-ares wants them). */
export type DnsChoice = 'off' | 'system' | string[];

/**
 * `off`, `system`, or comma-separated resolvers: `10.0.0.10`, `10.0.0.10:5353`, `[fd00::10]:53`, `fd00::10`, or a
 * host name (`coredns.local`, `localhost:5353`) that is looked up once through the system resolver here, because the
 * DNS client takes addresses only. `flag` names the flag in messages.
 */
export async function parseDnsServers(values: readonly string[], flag: string): Promise<string[]> {
  const out: string[] = [];
  for (const value of values) {
    const { host, port } = splitHostPort(value, flag);
    let address = host;
    if (!isIP(host)) {
      try {
        address = (await lookup(host)).address;
      } catch (err) {
        throw usageError(
          `${flag}: "${value}": cannot look up ${host} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give an IP address or a resolvable host name`,
        );
      }
    }
    const v6 = isIP(address) === 6;
    out.push(port === undefined ? address : v6 ? `[${address}]:${port}` : `${address}:${port}`);
  }
  return out;
}

function splitHostPort(value: string, flag: string): { host: string; port?: number } {
  let host = value;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (isIP(value) !== 6 && value.includes(':')) {
    // One colon: host:port. A bare IPv6 address has several and no port (brackets are needed for one).
    const i = value.lastIndexOf(':');
    host = value.slice(0, i);
    portText = value.slice(i + 1);
  }
  if (!host || (host.includes(':') && isIP(host) !== 6))
    throw usageError(`${flag}: "${value}" is not a resolver address (IP, IP:port, [IPv6]:port or host[:port])`);
  if (portText === undefined) return { host };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw usageError(`${flag}: "${value}": the port must be a number from 1 to 65535`);
  return { host, port };
}
