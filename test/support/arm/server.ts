/**
 * A small HTTPS Azure Resource Manager plus a Microsoft Entra token endpoint, for the real SDK clients and the real
 * @azure/identity to talk to. Data-driven: tests put registries and Service Tags answers in, inject faults (429 with
 * Retry-After, 5xx, slow answers) and read the request log. Like ARM it checks the api-version each operation is
 * pinned to (answering others with ARM's error), and requires a bearer token it issued for the expected scope.
 */
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  armError,
  managedClusterBody,
  registryBody,
  registryId,
  replicationListBody,
  type FakeRegistry,
} from './payloads.js';
import type { TestTls } from './tls.js';

type Json = Record<string, unknown>;

/** The api-versions the pinned SDKs send (shared/upstream/arm-specs/SOURCES.md). */
export const PINNED_API_VERSIONS = {
  containerRegistry: '2025-11-01',
  network: '2026-01-01',
  containerService: '2026-06-01',
} as const;

export interface Fault {
  /** Matched against the request path (without the query). */
  path: RegExp;
  /** Default: any method. */
  method?: string;
  /** Answer with this status (ARM's error body); without it the request is only delayed, then served. */
  status?: number;
  retryAfterSeconds?: number;
  delayMs?: number;
  /** How many requests it applies to; default 1. */
  times?: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  apiVersion: string | null;
  status: number;
  at: number;
}

export interface FakeIdentity {
  tenantId: string;
  clientId: string;
  /** The federated token the client must present (the content of its token file). */
  assertion: string;
}

/**
 * An extra ARM route set (test/support/arm/network.ts): sees authenticated requests before the built-in GET routes
 * and answers by calling `send`, returning true; false passes the request on.
 */
export type ArmHandler = (
  req: IncomingMessage,
  url: URL,
  send: (status: number, body: unknown, headers?: Record<string, string>) => void,
) => Promise<boolean>;

interface Route {
  pattern: RegExp;
  apiVersion: string;
  /** For ARM's NoRegisteredProviderFound message. */
  type: string;
  answer(m: RegExpExecArray): { status: number; body: Json };
}

export class FakeArm {
  readonly registries = new Map<string, FakeRegistry>();
  /** Service Tags answers by `<subscription>/<location>`, lowercase. */
  readonly serviceTags = new Map<string, Json>();
  readonly requests: LoggedRequest[] = [];
  /** Scopes tokens were issued for, in order. */
  readonly tokenScopes: string[] = [];
  private readonly issued = new Set<string>();
  private readonly faults: (Fault & { left: number })[] = [];
  private readonly afterHooks: { method: string; path: RegExp; run: () => void }[] = [];
  private readonly routes: Route[];
  /** Registered by extra route sets such as FakeNetwork; tried in order. */
  readonly handlers: ArmHandler[] = [];
  url = '';

  private constructor(
    private readonly server: https.Server,
    readonly identity: FakeIdentity,
    /** The scope a token must be asked for: the cloud's ARM scope, whatever the endpoint. */
    public expectedScope: string,
  ) {
    const sub = '/subscriptions/([^/]+)';
    const registry = `${sub}/resourcegroups/([^/]+)/providers/microsoft\\.containerregistry/registries/([^/]+)`;
    this.routes = [
      {
        pattern: new RegExp(`^${registry}$`, 'i'),
        apiVersion: PINNED_API_VERSIONS.containerRegistry,
        type: 'registries',
        answer: (m) => this.registryAnswer(m, registryBody),
      },
      {
        pattern: new RegExp(`^${registry}/replications$`, 'i'),
        apiVersion: PINNED_API_VERSIONS.containerRegistry,
        type: 'registries/replications',
        answer: (m) => this.registryAnswer(m, replicationListBody),
      },
      {
        pattern: new RegExp(`^${sub}/providers/microsoft\\.network/locations/([^/]+)/servicetags$`, 'i'),
        apiVersion: PINNED_API_VERSIONS.network,
        type: 'locations/serviceTags',
        answer: (m) => {
          const found = this.serviceTags.get(`${m[1]}/${m[2]}`.toLowerCase());
          return found
            ? { status: 200, body: found }
            : { status: 404, body: armError('SubscriptionNotFound', `The subscription '${m[1]}' could not be found.`) };
        },
      },
      {
        pattern: new RegExp(
          `^${sub}/resourcegroups/([^/]+)/providers/microsoft\\.containerservice/managedclusters/([^/]+)$`,
          'i',
        ),
        apiVersion: PINNED_API_VERSIONS.containerService,
        type: 'managedClusters',
        answer: (m) => ({ status: 200, body: managedClusterBody(m[1]!, m[2]!, m[3]!) }),
      },
    ];
  }

  static async start(tls: TestTls, opts: { expectedScope?: string; identity?: Partial<FakeIdentity> } = {}) {
    const identity: FakeIdentity = {
      tenantId: opts.identity?.tenantId ?? '72f988bf-86f1-41af-91ab-2d7cd011db47',
      clientId: opts.identity?.clientId ?? '11111111-2222-3333-4444-555555555555',
      assertion: opts.identity?.assertion ?? `eyJhbGciOiJSUzI1NiJ9.${randomBytes(24).toString('base64url')}.sig`,
    };
    const server = https.createServer({ cert: tls.cert, key: tls.key });
    const fake = new FakeArm(server, identity, opts.expectedScope ?? 'https://management.azure.com/.default');
    server.on('request', (req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return fake;
  }

  putRegistry(r: FakeRegistry): string {
    const id = registryId(r);
    this.registries.set(id.toLowerCase(), r);
    return id;
  }

  putServiceTags(subscriptionId: string, location: string, body: Json): void {
    this.serviceTags.set(`${subscriptionId}/${location}`.toLowerCase(), body);
  }

  /** Faults are checked in order; the first that matches and has uses left applies. */
  inject(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
    this.afterHooks.length = 0;
  }

  /**
   * Runs `run` once, right after the next request with this method and a matching path has been answered: another
   * writer acting between two requests of the client under test.
   */
  afterNext(method: string, path: RegExp, run: () => void): void {
    this.afterHooks.push({ method, path, run });
  }

  /** Requests whose path matches, optionally with a given answer status. */
  count(path: RegExp, status?: number): number {
    return this.requests.filter((r) => path.test(r.path) && (status === undefined || r.status === status)).length;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      apiVersion: url.searchParams.get('api-version'),
      status: 0,
      at: Date.now(),
    };
    this.requests.push(entry);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
      const hook = this.afterHooks.findIndex((h) => h.method === entry.method && h.path.test(url.pathname));
      if (hook >= 0) this.afterHooks.splice(hook, 1)[0]!.run();
    };
    const form = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : undefined;
    const fault = this.faults.find(
      (f) => f.left > 0 && f.path.test(url.pathname) && (!f.method || f.method === entry.method),
    );
    if (fault) {
      fault.left--;
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.status) {
        const retry: Record<string, string> =
          fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
        const code = fault.status === 429 ? 'TooManyRequests' : 'InternalServerError';
        return send(fault.status, armError(code, `fake ARM: injected ${fault.status}`), retry);
      }
    }
    const tenant = this.identity.tenantId;
    if (url.pathname === `/${tenant}/v2.0/.well-known/openid-configuration`)
      return send(200, this.openIdConfiguration());
    if (url.pathname === `/${tenant}/oauth2/v2.0/token` && form) return this.token(form, send);
    return this.arm(req, url, send);
  }

  /** What MSAL reads before asking for a token; the issuer must be on the authority's host. */
  private openIdConfiguration(): Json {
    const base = `${this.url}/${this.identity.tenantId}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      issuer: `${base}/v2.0`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    };
  }

  /** The client-credentials grant with a federated assertion, as WorkloadIdentityCredential sends it. */
  private token(form: URLSearchParams, send: (status: number, body: unknown) => void): void {
    const refuse = (error: string, description: string) => send(400, { error, error_description: description });
    if (form.get('grant_type') !== 'client_credentials') return refuse('unsupported_grant_type', 'AADSTS70003');
    if (form.get('client_id') !== this.identity.clientId) return refuse('unauthorized_client', 'AADSTS700016');
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
      return refuse('invalid_request', 'AADSTS50027: client_assertion_type');
    if (form.get('client_assertion') !== this.identity.assertion)
      return refuse('invalid_client', 'AADSTS700213: No matching federated identity record found');
    const scopes = (form.get('scope') ?? '').split(' ');
    if (!scopes.includes(this.expectedScope))
      return refuse('invalid_scope', `AADSTS500011: scope ${form.get('scope')} is not ${this.expectedScope}`);
    const token = randomBytes(32).toString('base64url');
    this.issued.add(token);
    this.tokenScopes.push(this.expectedScope);
    send(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
  }

  private async arm(
    req: IncomingMessage,
    url: URL,
    send: (s: number, b: unknown, h?: Record<string, string>) => void,
  ): Promise<void> {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !this.issued.has(auth.slice(7))) {
      return send(401, armError('InvalidAuthenticationToken', 'The access token is invalid or missing.'), {
        'www-authenticate': `Bearer authorization_uri="${this.url}/${this.identity.tenantId}", error="invalid_token"`,
      });
    }
    for (const handler of this.handlers) if (await handler(req, url, send)) return;
    if (req.method !== 'GET') return send(405, armError('MethodNotAllowed', `fake ARM: ${req.method} is not served`));
    for (const route of this.routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      const version = url.searchParams.get('api-version');
      if (!version) {
        return send(
          400,
          armError(
            'MissingApiVersionParameter',
            'The api-version query parameter (?api-version=) is required for all requests.',
          ),
        );
      }
      if (version !== route.apiVersion) {
        return send(
          400,
          armError(
            'NoRegisteredProviderFound',
            `No registered resource provider found for location 'global' and API version '${version}' for type '${route.type}'. The supported api-versions are '${route.apiVersion}'.`,
          ),
        );
      }
      const { status, body } = route.answer(m);
      return send(status, body);
    }
    return send(404, armError('NotFound', `fake ARM: no route for ${url.pathname}`));
  }

  private registryAnswer(m: RegExpExecArray, make: (r: FakeRegistry) => Json): { status: number; body: Json } {
    const [, sub, group, name] = m as unknown as [string, string, string, string];
    const r = this.registries.get(registryId({ subscriptionId: sub, resourceGroup: group, name }).toLowerCase());
    if (r) return { status: 200, body: make(r) };
    return {
      status: 404,
      body: armError(
        'ResourceNotFound',
        `The Resource 'Microsoft.ContainerRegistry/registries/${name}' under resource group '${group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      ),
    };
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
