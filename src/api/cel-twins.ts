// JavaScript twins of the CRD's CEL rules, keyed by the rule text, so `render` rejects what the API server would
// reject, with the same message. A unit test checks that every rule in the schema has its twin here, and the shared
// admission table (test/fixtures/admission-cases.ts) runs against both.
import { PATTERNS, RULES } from './rules.js';

type Json = Record<string, unknown>;
const re = (p: string) => new RegExp(p);

function has(v: unknown, key: string): boolean {
  return typeof v === 'object' && v !== null && (v as Json)[key] !== undefined;
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** CEL's lowerAscii: only A-Z change (String.prototype.toLowerCase would also fold, say, the Kelvin sign to k). */
const lowerAscii = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** A label key as apimachinery's IsQualifiedName judges it (the CEL rule's two regular expressions). */
function isLabelKey(k: unknown): boolean {
  return typeof k === 'string' && re(PATTERNS.labelKey).test(k) && !re(PATTERNS.labelKeyLongPrefix).test(k);
}

/**
 * Dotted-decimal IPv4 as Go's netip.ParseAddr reads it (which Kubernetes' CEL `ip`/`isIP` use): four fields of
 * 0-255, no leading zeros. Returns the address as a number, or undefined.
 */
function parseIPv4(s: string): number | undefined {
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((a, o) => a * 256 + o, 0);
}

/**
 * The egressIP rule: an IPv4 address, or an IPv4 prefix (netip.ParsePrefix: bits 0-32 without leading zeros) whose
 * host bits are zero. Anything IPv6 fails the rule by its family, so it needs no parser here.
 */
function isEgressIPv4(s: unknown): boolean {
  if (typeof s !== 'string') return false;
  if (parseIPv4(s) !== undefined) return true;
  const m = /^([^/]*)\/(0|[1-9]\d?)$/.exec(s);
  if (!m) return false;
  const addr = parseIPv4(m[1]!);
  const bits = Number(m[2]);
  if (addr === undefined || bits > 32) return false;
  const hostSize = 2 ** (32 - bits);
  return addr % hostSize === 0;
}

type Twin = [rule: string, check: (self: unknown) => boolean];
const armIdTwin = (pattern: string): Twin => [RULES.armId(pattern), (s) => re(pattern).test(lowerAscii(String(s)))];
const matchesTwin = (pattern: string): Twin => [RULES.matches(pattern), (s) => re(pattern).test(String(s))];

export const CEL_EQUIVALENTS: Record<string, (self: unknown) => boolean> = {
  ...Object.fromEntries([
    armIdTwin(PATTERNS.registryResourceId),
    armIdTwin(PATTERNS.firewallPolicyId),
    armIdTwin(PATTERNS.networkSecurityGroupId),
    armIdTwin(PATTERNS.managedClusterId),
    matchesTwin(PATTERNS.loginServer),
    matchesTwin(PATTERNS.region),
    matchesTwin(PATTERNS.labelValue),
  ]),
  'has(self.resourceId) != has(self.loginServer)': (s) => has(s, 'resourceId') !== has(s, 'loginServer'),
  'has(self.resourceId) || (has(self.regions) && size(self.regions) > 0)': (s) =>
    has(s, 'resourceId') || list((s as Json).regions).length > 0,
  "!has(self.cloud) || !has(self.loginServer) || self.loginServer.endsWith(self.cloud == 'AzureChinaCloud' ? '.azurecr.cn' : self.cloud == 'AzureUSGovernment' ? '.azurecr.us' : '.azurecr.io')":
    (s) => {
      const { cloud, loginServer } = s as Json;
      if (cloud === undefined || loginServer === undefined) return true;
      const suffix =
        cloud === 'AzureChinaCloud' ? '.azurecr.cn' : cloud === 'AzureUSGovernment' ? '.azurecr.us' : '.azurecr.io';
      return typeof loginServer === 'string' && loginServer.endsWith(suffix);
    },
  [RULES.unique]: (s) => new Set(list(s).map((x) => JSON.stringify(x))).size === list(s).length,
  "!('Auto' in self) || size(self) == 1": (s) => !list(s).includes('Auto') || list(s).length === 1,
  '!self.enabled || has(self.clusterResourceId) || (has(self.egressIPs) && size(self.egressIPs) > 0)': (s) => {
    const v = s as Json;
    return !v.enabled || has(v, 'clusterResourceId') || list(v.egressIPs).length > 0;
  },
  [RULES.labelKey]: isLabelKey,
  [RULES.matchLabelsKeys]: (s) => Object.keys(s as Json).every((k) => k.length <= 317 && isLabelKey(k)),
  [RULES.matchLabelsValues]: (s) =>
    Object.values(s as Json).every((v) => typeof v === 'string' && re(PATTERNS.labelValue).test(v)),
  [RULES.valuesRequired]: (s) => {
    const { operator, values } = s as Json;
    return !(operator === 'In' || operator === 'NotIn') || list(values).length > 0;
  },
  [RULES.valuesForbidden]: (s) => {
    const { operator, values } = s as Json;
    return !(operator === 'Exists' || operator === 'DoesNotExist') || list(values).length === 0;
  },
  [RULES.networkSecurityGroupsUnique]: (s) => {
    const ids = list(s).map((g) => lowerAscii(String((g as Json).resourceId)));
    return new Set(ids).size === ids.length;
  },
  [RULES.egressIP]: isEgressIPv4,
  [RULES.firewallSource]: (s) => s === '*' || isEgressIPv4(s),
  [RULES.dnsOnlyStorage]: (s) => {
    const { addressSources, registry } = s as Json;
    return (
      list(addressSources).length === 0 ||
      list(addressSources).includes('ServiceTags') ||
      (registry as Json | undefined)?.dataEndpoints === 'Enabled'
    );
  },
  [RULES.dnsOnlyMcr]: (s) => {
    const { addressSources, includeMicrosoftContainerRegistry } = s as Json;
    return (
      list(addressSources).length === 0 ||
      list(addressSources).includes('ServiceTags') ||
      !includeMicrosoftContainerRegistry
    );
  },
};
