/**
 * Network security groups (and their security rules) and firewall policy rule collection groups for the fake ARM,
 * behaving as Microsoft.Network does where the operator depends on it: one ETag per NSG shown on every rule and
 * changed by any write; If-Match / If-None-Match answered with 412; a priority two rules of one direction share
 * refused with 400 SecurityRuleConflict; writes as long-running operations (Azure-AsyncOperation polling) when
 * a test makes them slow. Tests inject 429 with Retry-After, 500, and a concurrent writer: a foreign edit made
 * after our read and before our write lands.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { armError } from './payloads.js';
import type { ArmHandler, FakeArm } from './server.js';
import { PINNED_API_VERSIONS } from './server.js';
import {
  firewallPolicyId,
  groupBody,
  newEtag,
  nsgBody,
  nsgId,
  preconditionFailed,
  validateRule,
  type Cond,
  securityRuleBody,
  type FakeGroup,
  type FakeNsg,
  type Json,
} from './network-payloads.js';

export interface NetworkFault {
  /** Default: any method. */
  method?: 'GET' | 'PUT' | 'DELETE';
  path: RegExp;
  status: 429 | 500 | 503;
  retryAfterSeconds?: number;
  /** Default 1. */
  times?: number;
}

interface Operation {
  doneAt: number;
  finish: () => void;
  finished: boolean;
  location: string;
}

type Send = Parameters<ArmHandler>[2];
const API = PINNED_API_VERSIONS.network;

export class FakeNetwork {
  readonly nsgs = new Map<string, FakeNsg>();
  /** Policy id (lowercase) → group name (lowercase) → group. */
  readonly policies = new Map<
    string,
    { id: string; location: string; groups: Map<string, FakeGroup & { name: string }> }
  >();
  private readonly faults: (NetworkFault & { left: number })[] = [];
  private readonly hooks: { path: RegExp; run: () => void }[] = [];
  private readonly slow: { path: RegExp; durationMs: number; left: number }[] = [];
  private readonly operations = new Map<string, Operation>();

  private constructor(private readonly arm: FakeArm) {}

  static attach(arm: FakeArm): FakeNetwork {
    const net = new FakeNetwork(arm);
    arm.handlers.push((req, url, send) => net.handle(req, url, send));
    return net;
  }

  putNsg(p: { subscriptionId: string; resourceGroup: string; name: string; location?: string }): string {
    const id = nsgId(p.subscriptionId, p.resourceGroup, p.name);
    this.nsgs.set(id.toLowerCase(), {
      id,
      name: p.name,
      location: p.location ?? 'eastus',
      etag: newEtag(),
      rules: new Map(),
    });
    return id;
  }

  /** Another writer (portal, Terraform) sets a rule: the NSG's ETag changes, as with any write. */
  putForeignRule(id: string, name: string, properties: Json): void {
    const nsg = this.nsg(id);
    nsg.rules.set(name, structuredClone(properties));
    nsg.etag = newEtag();
  }

  /** The rules as a GET shows them, by name. */
  rules(id: string): Record<string, Json> {
    return Object.fromEntries([...this.nsg(id).rules].map(([n, p]) => [n, structuredClone(p)]));
  }

  putFirewallPolicy(p: { subscriptionId: string; resourceGroup: string; name: string; location?: string }): string {
    const id = firewallPolicyId(p.subscriptionId, p.resourceGroup, p.name);
    this.policies.set(id.toLowerCase(), { id, location: p.location ?? 'eastus', groups: new Map() });
    return id;
  }

  /** Another writer's group, or a change to any group. */
  putGroup(policyId: string, name: string, properties: Json): void {
    const policy = this.policy(policyId);
    policy.groups.set(name.toLowerCase(), { name, etag: newEtag(), properties: structuredClone(properties) });
  }

  group(policyId: string, name: string): (FakeGroup & { name: string }) | undefined {
    const g = this.policy(policyId).groups.get(name.toLowerCase());
    return g && structuredClone(g);
  }

  inject(fault: NetworkFault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  /** Runs `edit` once, just before the next write to a matching path is processed: a concurrent writer. */
  beforeNextWrite(path: RegExp, edit: () => void): void {
    this.hooks.push({ path, run: edit });
  }

  /** The next `times` writes to a matching path are long-running and take `durationMs` to finish. */
  slowWrites(path: RegExp, durationMs: number, times = 1): void {
    this.slow.push({ path, durationMs, left: times });
  }

  clear(): void {
    this.faults.length = 0;
    this.hooks.length = 0;
    this.slow.length = 0;
  }

  /** Write requests (PUT, DELETE) to a matching path that ARM accepted. */
  writes(path: RegExp = /./): number {
    return this.arm.requests.filter((r) => r.method !== 'GET' && path.test(r.path) && r.status < 300).length;
  }

  private async handle(req: IncomingMessage, url: URL, send: Send): Promise<boolean> {
    const path = url.pathname;
    const sub = '/subscriptions/([^/]+)';
    const rg = `${sub}/resourceGroups/([^/]+)/providers/Microsoft\\.Network`;
    const nsgM = new RegExp(`^(${rg}/networkSecurityGroups/[^/]+)(?:/securityRules/([^/]+))?$`, 'i').exec(path);
    const rcgM = new RegExp(`^(${rg}/firewallPolicies/[^/]+)/ruleCollectionGroups/([^/]+)$`, 'i').exec(path);
    const opM = new RegExp(
      `^${sub}/providers/Microsoft\\.Network/locations/[^/]+/(operations|operationResults)/([^/]+)$`,
      'i',
    ).exec(path);
    if (!nsgM && !rcgM && !opM) return false;
    if (url.searchParams.get('api-version') !== API) {
      send(400, armError('InvalidApiVersionParameter', `fake ARM: api-version must be ${API}`));
      return true;
    }
    this.settleDue();
    const method = req.method ?? 'GET';
    const fault = this.faults.find((f) => f.left > 0 && f.path.test(path) && (!f.method || f.method === method));
    if (fault) {
      fault.left--;
      const headers: Record<string, string> =
        fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
      const code = fault.status === 429 ? 'TooManyRequests' : 'InternalServerError';
      send(fault.status, armError(code, `fake ARM: injected ${fault.status}`), headers);
      return true;
    }
    if (method !== 'GET') {
      const hook = this.hooks.findIndex((h) => h.path.test(path));
      if (hook >= 0) this.hooks.splice(hook, 1)[0]!.run();
    }
    const body = method === 'PUT' ? (JSON.parse((await readBody(req)) || '{}') as Json) : {};
    const cond = { ifMatch: header(req, 'if-match'), ifNoneMatch: header(req, 'if-none-match') };
    if (opM) this.operation(opM[2]!.toLowerCase(), opM[3]!, send);
    else if (nsgM) this.nsgRoute(method, nsgM[1]!, nsgM[4], body, cond, send);
    else this.groupRoute(method, rcgM![1]!, rcgM![4]!, body, cond, send);
    return true;
  }

  private nsgRoute(method: string, id: string, rule: string | undefined, body: Json, cond: Cond, send: Send) {
    const nsg = this.nsgs.get(id.toLowerCase());
    if (!nsg) {
      return send(
        404,
        armError(
          'ResourceNotFound',
          `The Resource 'Microsoft.Network/networkSecurityGroups/${id.split('/').pop()}' was not found.`,
        ),
      );
    }
    if (!rule) {
      return method === 'GET'
        ? send(200, nsgBody(nsg))
        : send(405, armError('MethodNotAllowed', 'fake ARM: NSG writes are not served'));
    }
    const existing = nsg.rules.get(rule);
    if (method === 'GET') {
      return existing
        ? send(200, securityRuleBody(nsg, rule, existing))
        : send(404, armError('NotFound', `Resource ${nsg.id}/securityRules/${rule} not found.`));
    }
    // Every rule shows the NSG's ETag, so a precondition is checked against it.
    const failed = preconditionFailed(cond, existing ? nsg.etag : undefined);
    if (failed) return send(412, armError('PreconditionFailed', failed));
    if (method === 'DELETE') {
      if (!existing) return send(204, {});
      const finish = () => {
        nsg.rules.delete(rule);
        nsg.etag = newEtag();
      };
      return this.respondWrite(`${nsg.id}/securityRules/${rule}`, nsg.location, 200, {}, finish, send, true);
    }
    const p = (body.properties ?? {}) as Json;
    const invalid = validateRule(rule, p);
    if (invalid) return send(400, armError(invalid.code, invalid.message));
    for (const [other, q] of nsg.rules) {
      if (other !== rule && q.priority === p.priority && lower(q.direction) === lower(p.direction)) {
        return send(
          400,
          armError(
            'SecurityRuleConflict',
            `Security rule ${rule} conflicts with rule ${other}. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules.`,
          ),
        );
      }
    }
    const stored: Json = { ...structuredClone(p), provisioningState: 'Succeeded' };
    const slow = this.takeSlow(`${nsg.id}/securityRules/${rule}`);
    nsg.rules.set(rule, slow ? { ...stored, provisioningState: 'Updating' } : stored);
    nsg.etag = newEtag();
    const finish = () => {
      const current = nsg.rules.get(rule);
      if (current) nsg.rules.set(rule, { ...current, provisioningState: 'Succeeded' });
    };
    const answer = securityRuleBody(nsg, rule, nsg.rules.get(rule)!);
    this.respondWrite(
      `${nsg.id}/securityRules/${rule}`,
      nsg.location,
      existing ? 200 : 201,
      answer,
      finish,
      send,
      false,
      slow,
    );
  }

  private groupRoute(method: string, policyIdPath: string, name: string, body: Json, cond: Cond, send: Send) {
    const policy = this.policies.get(policyIdPath.toLowerCase());
    if (!policy) {
      return send(
        404,
        armError(
          'ParentResourceNotFound',
          `Can not perform requested operation on nested resource. Parent resource '${policyIdPath.split('/').pop()}' not found.`,
        ),
      );
    }
    const key = name.toLowerCase();
    const existing = policy.groups.get(key);
    if (method === 'GET') {
      return existing
        ? send(200, groupBody(policy.id, existing.name, existing))
        : send(
            404,
            armError(
              'ResourceNotFound',
              `The Resource 'Microsoft.Network/firewallPolicies/ruleCollectionGroups/${name}' was not found.`,
            ),
          );
    }
    const failed = preconditionFailed(cond, existing?.etag);
    if (failed) return send(412, armError('PreconditionFailed', failed));
    const path = `${policy.id}/ruleCollectionGroups/${name}`;
    if (method === 'DELETE') {
      if (!existing) return send(204, {});
      return this.respondWrite(path, policy.location, 200, {}, () => policy.groups.delete(key), send, true);
    }
    const p = (body.properties ?? {}) as Json;
    const priority = p.priority as number | undefined;
    if (typeof priority !== 'number' || priority < 100 || priority > 65000) {
      return send(
        400,
        armError(
          'FirewallPolicyRuleCollectionGroupInvalidPriority',
          `priority ${priority} must be between 100 and 65000`,
        ),
      );
    }
    const slow = this.takeSlow(path);
    const group = {
      name,
      etag: newEtag(),
      properties: { ...structuredClone(p), provisioningState: slow ? 'Updating' : 'Succeeded' },
    };
    policy.groups.set(key, group);
    const finish = () => {
      const g = policy.groups.get(key);
      if (g) g.properties = { ...g.properties, provisioningState: 'Succeeded' };
    };
    this.respondWrite(
      path,
      policy.location,
      existing ? 200 : 201,
      groupBody(policy.id, name, group),
      finish,
      send,
      false,
      slow,
    );
  }

  /** Synchronous unless the test made this write slow: then Azure-AsyncOperation (and Location for a DELETE). */
  private respondWrite(
    path: string,
    location: string,
    status: number,
    body: Json,
    finish: () => void,
    send: Send,
    isDelete: boolean,
    slow = isDelete ? this.takeSlow(path) : undefined,
  ) {
    if (!slow) {
      finish();
      return send(status, body);
    }
    const opId = randomUUID();
    const sub = path.split('/')[2]!;
    const base = `${this.arm.url}/subscriptions/${sub}/providers/Microsoft.Network/locations/${location}`;
    const op: Operation = {
      doneAt: Date.now() + slow.durationMs,
      finish,
      finished: false,
      location: `${base}/operationResults/${opId}?api-version=${API}`,
    };
    this.operations.set(opId, op);
    const headers: Record<string, string> = { 'azure-asyncoperation': `${base}/operations/${opId}?api-version=${API}` };
    if (isDelete) headers.location = op.location;
    send(isDelete ? 202 : status, isDelete ? {} : body, headers);
  }

  private operation(kind: string, opId: string, send: Send) {
    const op = this.operations.get(opId);
    if (!op) return send(404, armError('NotFound', `operation ${opId} not found`));
    if (kind === 'operationresults') return op.finished ? send(204, {}) : send(202, {}, { location: op.location });
    send(200, { status: op.finished ? 'Succeeded' : 'InProgress' });
  }

  private settleDue(): void {
    for (const op of this.operations.values()) {
      if (!op.finished && Date.now() >= op.doneAt) {
        op.finished = true;
        op.finish();
      }
    }
  }

  private takeSlow(path: string): { durationMs: number } | undefined {
    const s = this.slow.find((x) => x.left > 0 && x.path.test(path));
    if (s) s.left--;
    return s;
  }

  private nsg(id: string): FakeNsg {
    const nsg = this.nsgs.get(id.toLowerCase());
    if (!nsg) throw new Error(`fake ARM has no NSG ${id}`);
    return nsg;
  }

  private policy(id: string) {
    const policy = this.policies.get(id.toLowerCase());
    if (!policy) throw new Error(`fake ARM has no firewall policy ${id}`);
    return policy;
  }
}

const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : '');
const header = (req: IncomingMessage, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
