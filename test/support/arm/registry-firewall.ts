/**
 * What the registry IP firewall needs from the fake ARM, behaving as ARM does where the operator depends on it:
 * - Registries_Update (PATCH) replacing the whole `networkRuleSet`, as ACR does; unknown properties and non-IPv4
 *   values refused with 400; IP rules refused on a non-Premium registry and past the registry's IP rule quota; a
 *   long-running answer (201 + Azure-AsyncOperation, provisioningState Updating) when a test makes it slow. ACR's
 *   Registry has no ETag in 2025-11-01, so neither has this one, and If-Match is not looked at.
 * - Registries_ListUsages with an `IPRules` entry.
 * - GETs of managed clusters (per outboundType), public IPs and prefixes, NAT gateways, subnets, Azure Firewalls and
 *   firewall policies, at the api-versions the pinned SDKs send.
 * Faults (429 with Retry-After, 500) go through FakeArm.inject; a concurrent writer through `beforeNextWrite`
 * (just before our PATCH lands), `afterNextRead` and `afterNextWrite`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  armError,
  azureFirewallBody,
  clusterId,
  egressClusterBody,
  firewallPolicyBody,
  natGatewayBody,
  publicIpBody,
  publicIpPrefixBody,
  registryBody,
  registryUsagesBody,
  subnetBody,
  type FakeCluster,
  type FakeRegistry,
} from './payloads.js';
import { PINNED_API_VERSIONS, type ArmHandler, type FakeArm } from './server.js';

type Json = Record<string, unknown>;
type Send = Parameters<ArmHandler>[2];
type Where = { subscriptionId: string; resourceGroup: string; name: string };

/** Registries_Update's body, as the 2025-11-01 spec has it: anything else is refused. */
const UPDATE_FIELDS = new Set(['identity', 'tags', 'sku', 'properties']);
const UPDATE_PROPERTIES = new Set([
  'adminUserEnabled',
  'networkRuleSet',
  'policies',
  'encryption',
  'dataEndpointEnabled',
  'publicNetworkAccess',
  'networkRuleBypassOptions',
  'networkRuleBypassAllowedForTasks',
  'anonymousPullEnabled',
  'roleAssignmentMode',
]);
const RULE_SET_FIELDS = new Set(['defaultAction', 'ipRules']);
const IP_RULE_FIELDS = new Set(['action', 'value']);
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}(\/([12]?\d|3[0-2]))?$/;

interface Operation {
  doneAt: number;
  finished: boolean;
  finish: () => void;
}

export class FakeRegistryFirewall {
  /** Managed clusters and Microsoft.Network resources by lowercase id: their GET answers. */
  private readonly clusters = new Map<string, Json>();
  private readonly network = new Map<string, Json>();
  private readonly limits = new Map<string, number>();
  private readonly before: { path: RegExp; run: () => void }[] = [];
  private readonly slow: { path: RegExp; durationMs: number; left: number }[] = [];
  private readonly operations = new Map<string, Operation>();

  private constructor(private readonly arm: FakeArm) {}

  static attach(arm: FakeArm): FakeRegistryFirewall {
    const fake = new FakeRegistryFirewall(arm);
    arm.handlers.push((req, url, send) => fake.handle(req, url, send));
    return fake;
  }

  /** The registry's IP rule values, as a GET shows them. */
  ipRules(registryId: string): string[] {
    return [...(this.registry(registryId).ipRules ?? [])];
  }

  /** Another writer (portal, Terraform, `az acr network-rule add`) sets the whole list. */
  setIpRules(registryId: string, values: string[]): void {
    this.registry(registryId).ipRules = [...values];
  }

  /** Registries_ListUsages' `IPRules` limit for this registry; default 200 (Premium's). */
  setIpRuleLimit(registryId: string, limit: number): void {
    this.limits.set(registryId.toLowerCase(), limit);
  }

  putCluster(c: FakeCluster): string {
    const id = clusterId(c);
    this.clusters.set(id.toLowerCase(), egressClusterBody(c));
    return id;
  }

  putPublicIp(p: Where & { ipAddress?: string }): string {
    return this.put(publicIpBody(p));
  }

  putPublicIpPrefix(p: Where & { ipPrefix: string }): string {
    return this.put(publicIpPrefixBody(p));
  }

  putNatGateway(n: Parameters<typeof natGatewayBody>[0]): string {
    return this.put(natGatewayBody(n));
  }

  putSubnet(s: Parameters<typeof subnetBody>[0]): string {
    return this.put(subnetBody(s));
  }

  putAzureFirewall(f: Parameters<typeof azureFirewallBody>[0]): string {
    return this.put(azureFirewallBody(f));
  }

  putFirewallPolicy(p: Parameters<typeof firewallPolicyBody>[0]): string {
    return this.put(firewallPolicyBody(p));
  }

  /** Runs `edit` once, just before the next PATCH to a matching registry path is applied. */
  beforeNextWrite(path: RegExp, edit: () => void): void {
    this.before.push({ path, run: edit });
  }

  /** Runs `edit` once, right after the next GET of a matching path has been answered. */
  afterNextRead(path: RegExp, edit: () => void): void {
    this.arm.afterNext('GET', path, edit);
  }

  /** Runs `edit` once, right after the next PATCH to a matching path has been answered. */
  afterNextWrite(path: RegExp, edit: () => void): void {
    this.arm.afterNext('PATCH', path, edit);
  }

  /** The next `times` PATCHes to a matching path are long-running and take `durationMs` to finish. */
  slowWrites(path: RegExp, durationMs: number, times = 1): void {
    this.slow.push({ path, durationMs, left: times });
  }

  clear(): void {
    this.before.length = 0;
    this.slow.length = 0;
    this.arm.clearFaults();
  }

  /** PATCHes to a matching path that ARM accepted. */
  writes(path: RegExp = /./): number {
    return this.arm.requests.filter((r) => r.method === 'PATCH' && path.test(r.path) && r.status < 300).length;
  }

  private put(body: Json): string {
    const id = body.id as string;
    this.network.set(id.toLowerCase(), body);
    return id;
  }

  private async handle(req: IncomingMessage, url: URL, send: Send): Promise<boolean> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const key = path.toLowerCase();
    const registry =
      /^(\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.containerregistry\/registries\/[^/]+)(\/listusages|\/operationstatuses\/[^/]+)?$/.exec(
        key,
      );
    this.settleDue();
    if (registry && (method === 'PATCH' || (method === 'GET' && registry[2]))) {
      if (!this.apiVersion(url, PINNED_API_VERSIONS.containerRegistry, 'registries', send)) return true;
      const r = this.arm.registries.get(registry[1]!);
      if (!r) {
        send(
          404,
          armError(
            'ResourceNotFound',
            `The Resource 'Microsoft.ContainerRegistry/registries/${path.split('/')[8]}' was not found.`,
          ),
        );
        return true;
      }
      if (method === 'PATCH') await this.update(req, r, path, send);
      else if (registry[2] === '/listusages') send(200, registryUsagesBody(r, this.limit(registry[1]!, r)));
      else this.operation(registry[2]!.split('/').pop()!, send);
      return true;
    }
    if (method !== 'GET') return false;
    const cluster = this.clusters.get(key);
    if (cluster) {
      if (this.apiVersion(url, PINNED_API_VERSIONS.containerService, 'managedClusters', send)) send(200, cluster);
      return true;
    }
    const resource = this.network.get(key);
    if (resource) {
      if (this.apiVersion(url, PINNED_API_VERSIONS.network, resource.type as string, send)) send(200, resource);
      return true;
    }
    return false;
  }

  private async update(req: IncomingMessage, r: FakeRegistry, path: string, send: Send): Promise<void> {
    const hook = this.before.findIndex((h) => h.path.test(path));
    if (hook >= 0) this.before.splice(hook, 1)[0]!.run();
    let body: Json;
    try {
      body = JSON.parse((await readBody(req)) || '{}') as Json;
    } catch {
      return send(
        400,
        armError('InvalidRequestContent', 'The request content was invalid and could not be deserialized.'),
      );
    }
    const invalid = validateUpdate(body);
    if (invalid) return send(400, armError('InvalidRequestContent', invalid));
    const props = (body.properties ?? {}) as Json;
    const ruleSet = props.networkRuleSet as
      { defaultAction: 'Allow' | 'Deny'; ipRules?: { value: string }[] } | undefined;
    if (ruleSet) {
      const values = (ruleSet.ipRules ?? []).map((x) => x.value);
      const sku = r.sku ?? 'Premium';
      if (sku !== 'Premium' && values.length) {
        return send(
          400,
          armError(
            'RegistrySkuNotSupported',
            `Network rules are not supported for the SKU ${sku}. Upgrade the registry to Premium.`,
          ),
        );
      }
      const limit = this.limit(registryKey(path), r);
      if (values.length > limit) {
        return send(
          400,
          armError('QuotaExceeded', `The requested feature IP rule exceeds allowed quota ${limit} for the SKU ${sku}.`),
        );
      }
      r.ipRules = values;
      r.defaultAction = ruleSet.defaultAction;
    }
    if (props.publicNetworkAccess) r.publicNetworkAccess = props.publicNetworkAccess as 'Enabled' | 'Disabled';
    const slow = this.slow.find((s) => s.left > 0 && s.path.test(path));
    if (!slow) return send(200, registryBody(r));
    slow.left--;
    r.provisioningState = 'Updating';
    const opId = `registries-${randomUUID()}`;
    this.operations.set(opId, {
      doneAt: Date.now() + slow.durationMs,
      finished: false,
      finish: () => delete r.provisioningState,
    });
    const api = PINNED_API_VERSIONS.containerRegistry;
    send(201, registryBody(r), {
      'azure-asyncoperation': `${this.arm.url}${path}/operationStatuses/${opId}?api-version=${api}`,
    });
  }

  private operation(opId: string, send: Send): void {
    const op = [...this.operations].find(([k]) => k.toLowerCase() === opId)?.[1];
    if (!op) return send(404, armError('NotFound', `operation ${opId} not found`));
    send(200, { name: opId, status: op.finished ? 'Succeeded' : 'InProgress', startTime: new Date().toISOString() });
  }

  private settleDue(): void {
    for (const op of this.operations.values()) {
      if (!op.finished && Date.now() >= op.doneAt) {
        op.finished = true;
        op.finish();
      }
    }
  }

  private limit(key: string, r: FakeRegistry): number {
    return this.limits.get(key) ?? ((r.sku ?? 'Premium') === 'Premium' ? 200 : 0);
  }

  private apiVersion(url: URL, expected: string, type: string, send: Send): boolean {
    const version = url.searchParams.get('api-version');
    if (version === expected) return true;
    send(
      400,
      armError(
        'NoRegisteredProviderFound',
        `No registered resource provider found for location 'global' and API version '${version}' for type '${type}'. The supported api-versions are '${expected}'.`,
      ),
    );
    return false;
  }

  private registry(id: string): FakeRegistry {
    const r = this.arm.registries.get(id.toLowerCase());
    if (!r) throw new Error(`fake ARM has no registry ${id}`);
    return r;
  }
}

/** ARM's own refusal of a body the spec does not describe, or of an IP rule ACR does not take. */
function validateUpdate(body: Json): string | undefined {
  const unknown = (obj: Json, allowed: Set<string>, type: string) => {
    const k = Object.keys(obj).find((x) => !allowed.has(x));
    return k && `Could not find member '${k}' on object of type '${type}'.`;
  };
  const props = (body.properties ?? {}) as Json;
  const ruleSet = props.networkRuleSet as Json | undefined;
  const bad =
    unknown(body, UPDATE_FIELDS, 'RegistryUpdateParameters') ??
    unknown(props, UPDATE_PROPERTIES, 'RegistryPropertiesUpdateParameters') ??
    (ruleSet && unknown(ruleSet, RULE_SET_FIELDS, 'NetworkRuleSet'));
  if (bad) return bad;
  if (!ruleSet) return undefined;
  if (ruleSet.defaultAction !== 'Allow' && ruleSet.defaultAction !== 'Deny') {
    return `networkRuleSet.defaultAction is required: Allow or Deny, not ${JSON.stringify(ruleSet.defaultAction)}.`;
  }
  for (const rule of (ruleSet.ipRules ?? []) as Json[]) {
    const k = unknown(rule, IP_RULE_FIELDS, 'IPRule');
    if (k) return k;
    if (rule.action !== undefined && rule.action !== 'Allow')
      return `IP rule action ${JSON.stringify(rule.action)} is not Allow.`;
    if (typeof rule.value !== 'string' || !IPV4.test(rule.value)) {
      return `Invalid IP address or range ${JSON.stringify(rule.value)}. Only IPV4 address is allowed.`;
    }
  }
  return undefined;
}

const registryKey = (path: string) => path.toLowerCase();

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
