/**
 * Microsoft.Network answers for the fake, made from the REST specs' examples (shared/upstream/arm-examples): an NSG
 * as NetworkSecurityGroups_CreateOrUpdate answers it (its six default rules included), a rule collection group as
 * FirewallPolicyRuleCollectionGroups_Get does. As in ARM, every rule of an NSG shows the NSG's ETag.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { findUpstreamFile } from '../../fixtures/upstream.js';

export type Json = Record<string, unknown>;

function exampleBody(relative: string, status = '200'): Json {
  const file = findUpstreamFile(`arm-examples/Microsoft.Network/${relative}`);
  if (!file) throw new Error(`shared/upstream/arm-examples/Microsoft.Network/${relative} is missing`);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { responses: Record<string, { body: Json }> };
  return structuredClone(doc.responses[status]!.body);
}

export const newEtag = () => `W/"${randomUUID()}"`;

export const nsgId = (sub: string, group: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${group}/providers/Microsoft.Network/networkSecurityGroups/${name}`;
export const firewallPolicyId = (sub: string, group: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${group}/providers/Microsoft.Network/firewallPolicies/${name}`;

export interface FakeNsg {
  id: string;
  name: string;
  location: string;
  etag: string;
  /** Rule name → its `properties` as ARM stores them (provisioningState included). */
  rules: Map<string, Json>;
}

export function securityRuleBody(nsg: FakeNsg, name: string, properties: Json): Json {
  return {
    name,
    id: `${nsg.id}/securityRules/${name}`,
    etag: nsg.etag,
    type: 'Microsoft.Network/networkSecurityGroups/securityRules',
    properties: structuredClone(properties),
  };
}

/** NetworkSecurityGroups_Get: the example's body with this NSG's id, rules and ETag. */
export function nsgBody(nsg: FakeNsg): Json {
  const b = exampleBody('NetworkSecurityGroupCreateWithRule.json');
  const props = b.properties as Json;
  props.defaultSecurityRules = (props.defaultSecurityRules as Json[]).map((r) => ({
    ...r,
    id: `${nsg.id}/defaultSecurityRules/${r.name as string}`,
    etag: nsg.etag,
    type: 'Microsoft.Network/networkSecurityGroups/defaultSecurityRules',
  }));
  props.securityRules = [...nsg.rules].map(([name, p]) => securityRuleBody(nsg, name, p));
  props.resourceGuid = '9a5d5f2c-6f5e-4b0f-8d3e-2d3c1e0b7a11';
  return { ...b, id: nsg.id, name: nsg.name, location: nsg.location, etag: nsg.etag };
}

export interface FakeGroup {
  etag: string;
  properties: Json;
}

/** FirewallPolicyRuleCollectionGroups_Get, from FirewallPolicyRuleCollectionGroupGet.json. */
export function groupBody(policyId: string, name: string, g: FakeGroup): Json {
  const b = exampleBody('FirewallPolicyRuleCollectionGroupGet.json');
  return {
    ...b,
    name,
    id: `${policyId}/ruleCollectionGroups/${name}`,
    etag: g.etag,
    type: 'Microsoft.Network/FirewallPolicies/RuleCollectionGroups',
    properties: { size: '0.002 MB', ...structuredClone(g.properties) },
  };
}

/** A foreign rule as someone would add it in the portal: fields ARM fills in included. */
export function foreignRule(p: {
  priority: number;
  direction?: 'Inbound' | 'Outbound';
  access?: 'Allow' | 'Deny';
  destination?: string;
  port?: string;
}): Json {
  return {
    protocol: 'Tcp',
    sourcePortRange: '*',
    destinationPortRange: p.port ?? '22',
    sourceAddressPrefix: '10.1.0.0/16',
    destinationAddressPrefix: p.destination ?? '*',
    access: p.access ?? 'Allow',
    priority: p.priority,
    direction: p.direction ?? 'Inbound',
    sourcePortRanges: [],
    destinationPortRanges: [],
    sourceAddressPrefixes: [],
    destinationAddressPrefixes: [],
    description: 'added by the network team',
    provisioningState: 'Succeeded',
  };
}

/** NRP's rule-name pattern: 1-80 characters, starting alphanumeric, ending alphanumeric or underscore. */
const RULE_NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;

export interface Cond {
  ifMatch?: string;
  ifNoneMatch?: string;
}

/** RFC 9110: If-Match fails when absent or different; If-None-Match: * fails when present. */
export function preconditionFailed(cond: Cond, etag: string | undefined): string | undefined {
  if (cond.ifMatch !== undefined && cond.ifMatch !== '*' && cond.ifMatch !== etag) {
    return `The specified precondition 'If-Match = ${cond.ifMatch}' failed: the current ETag is ${etag ?? 'none (no such resource)'}.`;
  }
  if (cond.ifMatch === '*' && etag === undefined) return "The specified precondition 'If-Match = *' failed.";
  if (cond.ifNoneMatch === '*' && etag !== undefined) return "The specified precondition 'If-None-Match = *' failed.";
  return undefined;
}

export function validateRule(name: string, p: Json): { code: string; message: string } | undefined {
  if (!RULE_NAME.test(name)) return { code: 'InvalidResourceName', message: `Resource name ${name} is invalid.` };
  for (const field of ['protocol', 'access', 'direction', 'priority']) {
    if (p[field] === undefined)
      return { code: 'InvalidRequestFormat', message: `Cannot parse the request: ${field} is required.` };
  }
  const priority = p.priority as number;
  if (!Number.isInteger(priority) || priority < 100 || priority > 4096) {
    return {
      code: 'SecurityRuleInvalidPriority',
      message: `Security rule has invalid Priority ${priority}. Value provided: ${priority} Allowed range 100-4096.`,
    };
  }
  if (p.destinationAddressPrefix !== undefined && (p.destinationAddressPrefixes as unknown[] | undefined)?.length) {
    return {
      code: 'SecurityRuleParameterContainsUnsupportedValue',
      message: 'destinationAddressPrefix and destinationAddressPrefixes are exclusive.',
    };
  }
  return undefined;
}
