import { describe, expect, it } from 'vitest';
import { AddressError } from '../addresses/address-set.js';
import { DnsError } from '../addresses/dns.js';
import { FeedError } from '../addresses/servicetags.js';
import { parseAcrAccess } from '../api/validate.js';
import { DiscoveryError } from '../azure/errors.js';
import { EndpointError } from '../endpoints/endpoints.js';
import {
  globToRegExp,
  podPlaneNamespaces,
  registryRefusal,
  resolutionFailure,
  verdictFor,
  type VerdictConfig,
} from './verdict.js';

const all: VerdictConfig = { allowedRegistries: [] };
const acr = (spec: object, namespace = 'team-a') =>
  parseAcrAccess({ apiVersion: 'acraccess.io/v1alpha1', kind: 'AcrAccess', metadata: { name: 'r', namespace }, spec });
const cluster = (spec: object) =>
  parseAcrAccess({ apiVersion: 'acraccess.io/v1alpha1', kind: 'ClusterAcrAccess', metadata: { name: 'c' }, spec });
const registry = { loginServer: 'contoso.azurecr.io', regions: ['eastus'] };
const selector = { matchLabels: { team: 'a' } };
const ID =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/contoso';

describe('verdictFor', () => {
  it('lets a plain AcrAccess through with nothing to say', () => {
    expect(verdictFor(acr({ registry }), all)).toEqual({ notes: [], write: true });
  });

  it('refuses a registry outside the allow-list, naming the patterns', () => {
    const v = verdictFor(acr({ registry }), { allowedRegistries: ['*.azurecr.cn', 'fabrikam.azurecr.io'] });
    expect(v.write).toBe(false);
    expect(v.refusal).toEqual({
      reason: 'RegistryNotAllowed',
      message:
        "registry contoso.azurecr.io is not in the operator's allowed registries (*.azurecr.cn, fabrikam.azurecr.io)",
    });
    expect(verdictFor(acr({ registry }), { allowedRegistries: ['*.AZURECR.io'] }).refusal).toBeUndefined();
  });

  it('refuses resourceId without loginServer when ARM discovery is not configured, before the allow-list', () => {
    const v = verdictFor(acr({ registry: { resourceId: ID } }), { allowedRegistries: ['*.azurecr.io'] });
    expect(v.refusal?.reason).toBe('DiscoveryUnavailable');
    expect(v.refusal?.message).toContain('--azure-subscription');
    expect(v.refusal?.message).toContain('give spec.registry.loginServer and spec.registry.regions');
    expect(verdictFor(acr({ registry: { resourceId: ID } }), { ...all, armDiscovery: false }).refusal?.reason).toBe(
      'DiscoveryUnavailable',
    );
  });

  it('accepts resourceId with ARM discovery; the allow-list then applies to the discovered login server', () => {
    const config = { allowedRegistries: ['fabrikam.azurecr.io'], armDiscovery: true };
    expect(verdictFor(acr({ registry: { resourceId: ID } }), config)).toEqual({ notes: [], write: true });
    // A loginServer spec is checked at once, discovery or not.
    expect(verdictFor(acr({ registry }), config).refusal?.reason).toBe('RegistryNotAllowed');
    expect(registryRefusal('contoso-e7ggejfuhzhgedc8.azurecr.io', config)).toEqual({
      reason: 'RegistryNotAllowed',
      message:
        "registry contoso-e7ggejfuhzhgedc8.azurecr.io is not in the operator's allowed registries (fabrikam.azurecr.io)",
    });
    expect(registryRefusal('fabrikam.azurecr.io', config)).toBeUndefined();
    expect(registryRefusal('anything.azurecr.io', all)).toBeUndefined();
  });

  it('says spec.azure is not acted on when nothing writes to Azure, and nothing when the operator does', () => {
    const spec = {
      registry,
      namespaceSelector: selector,
      nodeSelector: { matchLabels: { pool: 'x' } },
      azure: { registryFirewall: { enabled: true, egressIPs: ['203.0.113.7'] } },
    };
    const v = verdictFor(cluster(spec), all);
    expect(v.refusal).toBeUndefined();
    expect(v.write).toBe(true);
    expect(v.notes.map((n) => n.reason)).toEqual(['AzureNotConfigured']);
    expect(v.notes[0]?.message).toMatch(/^spec\.azure is not acted on: .*--azure-subscription/);
    expect(verdictFor(cluster(spec), { ...all, azure: true }).notes).toEqual([]);
    // An AcrAccess has no spec.azure; a ClusterAcrAccess without it gets no note.
    expect(verdictFor(cluster({ registry, namespaceSelector: selector }), all).notes).toEqual([]);
  });

  it('says a ClusterAcrAccess without namespaceSelector writes no pod-plane objects, and still prunes', () => {
    const v = verdictFor(cluster({ registry }), all);
    expect(v.notes.map((n) => n.reason)).toEqual(['NoNamespaceSelector']);
    // write stays true: objects written under an earlier selector must still be pruned.
    expect(v.write).toBe(true);
    expect(podPlaneNamespaces(cluster({ registry }), ['team-a'], {})).toEqual([]);
  });

  it('writes nothing in Audit mode, and says so', () => {
    const v = verdictFor(acr({ registry, mode: 'Audit' }), all);
    expect(v.write).toBe(false);
    expect(v.notes).toEqual([
      { reason: 'Audit', message: 'mode is Audit: the policies are computed and reported, nothing is written' },
    ]);
  });

  it('writes nothing for an AcrAccess in a namespace the operator does not watch', () => {
    const v = verdictFor(acr({ registry }, 'team-b'), { allowedRegistries: [], watchedNamespaces: ['team-a'] });
    expect(v.write).toBe(false);
    expect(v.notes[0]?.reason).toBe('NamespaceNotWatched');
    expect(
      verdictFor(acr({ registry }, 'team-a'), { allowedRegistries: [], watchedNamespaces: ['team-a'] }).write,
    ).toBe(true);
  });
});

describe('podPlaneNamespaces', () => {
  it("is an AcrAccess's own namespace, whatever was selected", () => {
    expect(podPlaneNamespaces(acr({ registry }), ['x', 'y'], {})).toEqual(['team-a']);
  });

  it('is the selected, watched namespaces of a ClusterAcrAccess, sorted once each', () => {
    const c = cluster({ registry, namespaceSelector: selector });
    expect(podPlaneNamespaces(c, ['b', 'a', 'b'], {})).toEqual(['a', 'b']);
    expect(podPlaneNamespaces(c, ['b', 'a', 'c'], { watchedNamespaces: ['c', 'a'] })).toEqual(['a', 'c']);
  });
});

describe('resolutionFailure', () => {
  it('maps what resolution throws to the reasons the operator reports', () => {
    expect(resolutionFailure(new EndpointError({ field: 'spec.registry.regions', message: 'bad' }))).toEqual({
      reason: 'EndpointsUnresolvable',
      message: 'spec.registry.regions: bad',
      stalled: true,
    });
    expect(resolutionFailure(new AddressError('no tag'))).toMatchObject({
      reason: 'AddressesUnresolvable',
      stalled: true,
    });
    expect(resolutionFailure(new DnsError('h', 'ETIMEOUT', 'slow'))).toMatchObject({
      reason: 'DNSFailed',
      stalled: false,
    });
    expect(resolutionFailure(new FeedError('f', '', 'gone'))).toMatchObject({
      reason: 'FeedUnavailable',
      stalled: false,
    });
    expect(resolutionFailure(new Error('other'))).toMatchObject({ reason: 'ResolutionFailed', message: 'other' });
  });

  it('marks an ARM outage as neither stalled nor a plain retry: keep what is in force and say Degraded', () => {
    expect(resolutionFailure(new DiscoveryError('DiscoveryFailed', '500 InternalServerError: boom', 500))).toEqual({
      reason: 'DiscoveryFailed',
      message: '500 InternalServerError: boom',
      stalled: false,
      outage: true,
    });
    expect(resolutionFailure(new DiscoveryError('DiscoveryForbidden', 'no rights', 403))).toMatchObject({
      reason: 'DiscoveryForbidden',
      stalled: false,
      outage: true,
    });
    expect(resolutionFailure(new FeedError('f', '', 'gone')).outage).toBeUndefined();
  });
});

describe('globToRegExp', () => {
  it('matches whole names, case-insensitively; * is any run, ? one character, dots are literal', () => {
    expect(globToRegExp('*.azurecr.io').test('contoso.azurecr.io')).toBe(true);
    expect(globToRegExp('*.azurecr.io').test('contoso.azurecr.io.evil.com')).toBe(false);
    expect(globToRegExp('contoso.azurecr.io').test('contosoXazurecr.io')).toBe(false);
    expect(globToRegExp('c?ntoso.azurecr.io').test('CONTOSO.azurecr.io')).toBe(true);
  });
});
