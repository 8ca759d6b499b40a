import { describe, expect, it } from 'vitest';
import type { EgressIntent } from '../../intent/intent.js';
import { ciliumBackend, detectCilium, type ServedSchemas } from './backend.js';
import { OpenApiFields, fieldIn, type OpenApiDocument } from '../../kube/openapi.js';

const CNP = 'cilium.io/v2/CiliumNetworkPolicy';
const CCNP = 'cilium.io/v2/CiliumClusterwideNetworkPolicy';
const CCG_V2 = 'cilium.io/v2/CiliumCIDRGroup';
const CCG_V2ALPHA1 = 'cilium.io/v2alpha1/CiliumCIDRGroup';

/** A cluster serving `kinds`; `defaultDeny`: what its schemas say of spec.enableDefaultDeny (absent: unreadable). */
function cluster(kinds: string[], defaultDeny?: boolean): ServedSchemas {
  const served: ServedSchemas = { serves: async (apiVersion, kind) => kinds.includes(`${apiVersion}/${kind}`) };
  if (defaultDeny !== undefined)
    served.hasField = async (apiVersion, kind, path) =>
      kinds.includes(`${apiVersion}/${kind}`) && path.join('.') === 'spec.enableDefaultDeny' ? defaultDeny : false;
  return served;
}

describe('detectCilium', () => {
  it('is not served without the policy kinds', async () => {
    const d = await detectCilium(cluster([CCG_V2]));
    expect(d).toEqual({
      served: false,
      reason: 'cilium.io/v2 CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy not served',
      kinds: [],
    });
  });

  it('writes CiliumCIDRGroup at the newest served version', async () => {
    const both = await detectCilium(cluster([CNP, CCNP, CCG_V2, CCG_V2ALPHA1], true));
    expect(both.served).toBe(true);
    expect(both.kinds.find((k) => k.kind === 'CiliumCIDRGroup')?.apiVersion).toBe('cilium.io/v2');
    const old = await detectCilium(cluster([CNP, CCNP, CCG_V2ALPHA1], true));
    expect(old).toEqual({
      served: true,
      reason:
        'cilium.io/v2 CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy served with spec.enableDefaultDeny; ' +
        'CiliumCIDRGroup cilium.io/v2alpha1',
      kinds: [
        { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', namespaced: true },
        { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', namespaced: false },
        { apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumCIDRGroup', namespaced: false },
      ],
    });
  });

  it('refuses a cluster whose policy schema lacks enableDefaultDeny (before 1.16): it would isolate', async () => {
    const d = await detectCilium(cluster([CNP, CCNP, CCG_V2ALPHA1], false));
    expect(d.served).toBe(false);
    expect(d.reason).toMatch(/CiliumClusterwideNetworkPolicy lack spec.enableDefaultDeny \(Cilium before 1.16\)/);
    expect(d.kinds).toEqual([]);
  });

  it('without readable schemas, trusts cilium.io/v2 CIDR groups (1.18+) and refuses v2alpha1 only', async () => {
    const recent = await detectCilium(cluster([CNP, CCNP, CCG_V2, CCG_V2ALPHA1]));
    expect(recent.served).toBe(true);
    expect(recent.reason).toMatch(/Cilium 1.18\+/);
    const unsure = await detectCilium(cluster([CNP, CCNP, CCG_V2ALPHA1]));
    expect(unsure.served).toBe(false);
    expect(unsure.reason).toMatch(/could not be read to confirm spec.enableDefaultDeny/);
  });

  it('is not served without any CiliumCIDRGroup', async () => {
    expect((await detectCilium(cluster([CNP, CCNP], true))).served).toBe(false);
  });
});

describe('ciliumBackend.plan', () => {
  const intent: EgressIntent = {
    owner: { apiVersion: 'acraccess.io/v1alpha1', kind: 'ClusterAcrAccess', name: 'c', uid: 'u' },
    plane: 'pod',
    hosts: ['c.azurecr.io'],
    prefixes: { ipv4: ['20.0.0.0/16'], ipv6: [] },
    ports: [{ protocol: 'TCP', port: 443 }],
    workloads: { podSelector: {}, namespaces: ['a'] },
    options: { cilium: { podMatch: 'CIDR', nodeMatch: 'CIDR' } },
    provenance: { feed: { changeNumber: 1, cloud: 'Public', source: 'test' }, tags: [], dns: [], origins: {} },
  };

  it('writes the CIDR group at the detected version', async () => {
    const objects = ciliumBackend.plan(intent, await detectCilium(cluster([CNP, CCNP, CCG_V2ALPHA1], true)));
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([
      'cilium.io/v2alpha1 CiliumCIDRGroup',
      'cilium.io/v2 CiliumNetworkPolicy',
    ]);
  });

  it('refuses to plan for a cluster detection refused', async () => {
    const refused = await detectCilium(cluster([CNP, CCNP, CCG_V2ALPHA1], false));
    expect(() => ciliumBackend.plan(intent, refused)).toThrow(/cannot be planned.*enableDefaultDeny/);
  });

  it('passes the byte budget on', async () => {
    const detection = await detectCilium(cluster([CNP, CCNP, CCG_V2], true));
    const wide = { ...intent, prefixes: { ipv4: ['20.0.0.0/16', '20.1.0.0/16', '20.2.0.0/16'], ipv6: [] } };
    const groups = ciliumBackend
      .plan(wide, detection, { maxBytesPerObject: 32 })
      .filter((o) => o.kind === 'CiliumCIDRGroup');
    expect(groups).toHaveLength(2);
  });
});

describe('OpenApiFields', () => {
  // The shape kube-apiserver publishes for a CRD: the schema inline, metadata by allOf/$ref.
  const doc = (withField: boolean): OpenApiDocument => ({
    components: {
      schemas: {
        'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': { properties: { name: {} } },
        'io.cilium.v2.CiliumNetworkPolicy': {
          'x-kubernetes-group-version-kind': [{ group: 'cilium.io', kind: 'CiliumNetworkPolicy', version: 'v2' }],
          properties: {
            metadata: { allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }] },
            spec: { properties: withField ? { egress: {}, enableDefaultDeny: {} } : { egress: {} } },
          },
        },
      },
    },
  });

  it('walks properties and references', () => {
    const gvk = { group: 'cilium.io', version: 'v2', kind: 'CiliumNetworkPolicy' };
    expect(fieldIn(doc(true), gvk, ['spec', 'enableDefaultDeny'])).toBe(true);
    expect(fieldIn(doc(false), gvk, ['spec', 'enableDefaultDeny'])).toBe(false);
    expect(fieldIn(doc(true), gvk, ['metadata', 'name'])).toBe(true);
    expect(fieldIn(doc(true), { ...gvk, kind: 'Other' }, ['spec'])).toBeUndefined();
  });

  it('caches by the content hash and reads again when it changes', async () => {
    let hash = 'h1';
    const requests: string[] = [];
    const fields = new OpenApiFields(async (path) => {
      requests.push(path);
      if (path === '/openapi/v3') return { paths: { 'apis/cilium.io/v2': { serverRelativeURL: `/x?hash=${hash}` } } };
      return doc(hash === 'h2');
    });
    const ask = () => fields.hasField('cilium.io/v2', 'CiliumNetworkPolicy', ['spec', 'enableDefaultDeny']);
    expect(await ask()).toBe(false);
    expect(await ask()).toBe(false);
    hash = 'h2';
    expect(await ask()).toBe(true);
    expect(requests).toEqual(['/openapi/v3', '/x?hash=h1', '/openapi/v3', '/openapi/v3', '/x?hash=h2']);
    expect(await fields.hasField('cilium.io/v2alpha1', 'CiliumCIDRGroup', ['spec'])).toBeUndefined();
  });

  it('says "unknown" rather than "absent" when the API server publishes nothing', async () => {
    const fields = new OpenApiFields(async () => {
      throw new Error('404');
    });
    expect(await fields.hasField('cilium.io/v2', 'CiliumNetworkPolicy', ['spec'])).toBeUndefined();
  });
});
