import { describe, expect, it } from 'vitest';
import { DiscoveryError } from '../azure/errors.js';
import {
  ArmEndpointResolver,
  endpointsFromFacts,
  parseRegistryResourceId,
  type RegistryFacts,
  type RegistryReader,
  type RegistryResourceId,
} from './arm.js';
import { CLOUDS } from './clouds.js';
import { EndpointError, SpecEndpointResolver, allHosts } from './endpoints.js';

const PUBLIC = CLOUDS.AzurePublicCloud;
const SUB = '00000000-0000-0000-0000-000000000000';
const ID = `/subscriptions/${SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contoso`;
const noMcr = { includeMicrosoftContainerRegistry: false };

/** Facts as ARM reports a geo-replicated DNL registry (hashed login server) with data endpoints on. */
const facts = (over: Partial<RegistryFacts> = {}): RegistryFacts => ({
  id: ID,
  name: 'contoso',
  location: 'eastus',
  sku: 'Premium',
  loginServer: 'contoso-e7ggejfuhzhgedc8.azurecr.io',
  dataEndpointEnabled: true,
  dataEndpointHostNames: [
    'contoso-e7ggejfuhzhgedc8.westeurope.data.azurecr.io',
    'contoso-e7ggejfuhzhgedc8.eastus.data.azurecr.io',
  ],
  replications: [
    { name: 'westeurope', location: 'westeurope' },
    { name: 'eastus', location: 'eastus' },
  ],
  ...over,
});

describe('parseRegistryResourceId', () => {
  it('splits an id as the CRD validates it, whatever the case of the fixed segments', () => {
    expect(parseRegistryResourceId(ID)).toEqual({
      id: ID,
      subscriptionId: SUB,
      resourceGroup: 'rg-acr',
      name: 'contoso',
    });
    const lower = ID.toLowerCase();
    expect(parseRegistryResourceId(lower).resourceGroup).toBe('rg-acr');
  });

  it('refuses anything else, naming the field', () => {
    for (const bad of [`${ID}/replications/eastus`, ID.replace('registries', 'webhooks'), `${ID}/`, 'contoso']) {
      expect(() => parseRegistryResourceId(bad)).toThrow(EndpointError);
    }
    try {
      parseRegistryResourceId('contoso');
    } catch (err) {
      expect((err as EndpointError).field).toBe('spec.registry.resourceId');
    }
  });
});

describe('endpointsFromFacts', () => {
  it('takes the login server and data endpoints exactly as ARM lists them, never from the name', () => {
    const e = endpointsFromFacts(PUBLIC, facts(), 'Auto', noMcr);
    expect(e.loginServer).toBe('contoso-e7ggejfuhzhgedc8.azurecr.io');
    expect(e.regions).toEqual(['eastus', 'westeurope']);
    expect(e.dataEndpoints).toEqual([
      'contoso-e7ggejfuhzhgedc8.eastus.data.azurecr.io',
      'contoso-e7ggejfuhzhgedc8.westeurope.data.azurecr.io',
    ]);
    // With data endpoints on, layers never come from storage: no wildcard over every storage account.
    expect(e.storageHosts).toEqual([]);
    expect(allHosts(e)).not.toContain('contoso.azurecr.io');
    // ARM's data endpoints exist: DNS saying otherwise is a problem, not "not in use".
    expect(e.optionalHosts).toEqual(['azurecr.io']);
  });

  it('allows the storage wildcard when data endpoints are off, and MCR when asked', () => {
    const e = endpointsFromFacts(PUBLIC, facts({ dataEndpointEnabled: false, dataEndpointHostNames: [] }), 'Auto', {
      includeMicrosoftContainerRegistry: true,
    });
    expect(e.dataEndpoints).toEqual([]);
    expect(e.storageHosts).toEqual(['*.blob.core.windows.net']);
    expect(e.otherHosts).toEqual(['azurecr.io', 'mcr.microsoft.com', '*.data.mcr.microsoft.com']);
  });

  it('keeps the storage wildcard while ARM says enabled but lists no data endpoint yet', () => {
    const e = endpointsFromFacts(PUBLIC, facts({ dataEndpointHostNames: [] }), 'Auto', noMcr);
    expect(e.storageHosts).toEqual(['*.blob.core.windows.net']);
  });

  it('adds the home region even when no replication is listed (not Premium), lowercases and dedupes', () => {
    const e = endpointsFromFacts(
      PUBLIC,
      facts({ location: 'EastUS', sku: 'Standard', replications: [], dataEndpointEnabled: false }),
      'Auto',
      noMcr,
    );
    expect(e.regions).toEqual(['eastus']);
  });

  it('uses the sovereign cloud suffixes', () => {
    const china = CLOUDS.AzureChinaCloud;
    const e = endpointsFromFacts(
      china,
      facts({
        loginServer: 'contoso.azurecr.cn',
        location: 'chinaeast2',
        replications: [],
        dataEndpointEnabled: false,
      }),
      'Auto',
      noMcr,
    );
    expect(e.storageHosts).toEqual(['*.blob.core.chinacloudapi.cn']);
    expect(() => endpointsFromFacts(china, facts(), 'Auto', noMcr)).toThrow(/not a login server of AzureChinaCloud/);
  });

  it('refuses a dataEndpoints spec that contradicts ARM, naming the field', () => {
    const off = facts({ dataEndpointEnabled: false, dataEndpointHostNames: [] });
    expect(() => endpointsFromFacts(PUBLIC, off, 'Enabled', noMcr)).toThrow(
      /spec.registry.dataEndpoints: is Enabled, but Azure Resource Manager reports dedicated data endpoints disabled/,
    );
    expect(() => endpointsFromFacts(PUBLIC, facts(), 'Disabled', noMcr)).toThrow(
      /spec.registry.dataEndpoints: is Disabled, but registry contoso .* serves layers from dedicated data endpoints/,
    );
    expect(endpointsFromFacts(PUBLIC, facts(), 'Enabled', noMcr).dataEndpoints).toHaveLength(2);
    expect(endpointsFromFacts(PUBLIC, off, 'Disabled', noMcr).storageHosts).toEqual(['*.blob.core.windows.net']);
  });

  it('treats an answer without a login server as ARM failing, not as a spec problem', () => {
    expect(() => endpointsFromFacts(PUBLIC, facts({ loginServer: undefined }), 'Auto', noMcr)).toThrow(DiscoveryError);
  });
});

/** A reader counting reads; each read answers from `answer`, after `gate` resolves when one is given. */
function reader(answer: (id: RegistryResourceId) => RegistryFacts | Error) {
  const calls: string[] = [];
  let gate: Promise<void> | undefined;
  const r: RegistryReader & { calls: string[]; hold(): () => void } = {
    calls,
    async read(id) {
      calls.push(id.id);
      await gate;
      const a = answer(id);
      if (a instanceof Error) throw a;
      return a;
    },
    hold() {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
  return r;
}

describe('ArmEndpointResolver', () => {
  const setup = (answer: (id: RegistryResourceId) => RegistryFacts | Error = () => facts()) => {
    let now = 1_000_000;
    const r = reader(answer);
    const resolver = new ArmEndpointResolver({
      reader: r,
      cloud: PUBLIC,
      fallback: new SpecEndpointResolver(),
      refreshIntervalMs: 60_000,
      failureTtlMs: 5_000,
      now: () => now,
    });
    return { r, resolver, advance: (ms: number) => (now += ms) };
  };

  it('reads a registry once per refresh interval, however many resources name it, at once or later', async () => {
    const { r, resolver, advance } = setup();
    const release = r.hold();
    const all = Promise.all(Array.from({ length: 20 }, () => resolver.resolve({ resourceId: ID }, noMcr)));
    release();
    const results = await all;
    expect(new Set(results.map((e) => e.loginServer))).toEqual(new Set(['contoso-e7ggejfuhzhgedc8.azurecr.io']));
    expect(r.calls).toHaveLength(1);
    // Ids compare case-insensitively, as ARM's do.
    await resolver.resolve({ resourceId: ID.toLowerCase() }, noMcr);
    advance(59_999);
    await resolver.resolve({ resourceId: ID }, noMcr);
    expect(r.calls).toHaveLength(1);
    advance(1);
    await resolver.resolve({ resourceId: ID }, noMcr);
    expect(r.calls).toHaveLength(2);
    expect(resolver.reads.get(ID.toLowerCase())).toBe(2);
  });

  it('shares a failure for a short while, then asks ARM again', async () => {
    let fail = true;
    const { r, resolver, advance } = setup(() => (fail ? new DiscoveryError('DiscoveryFailed', 'boom', 500) : facts()));
    await expect(resolver.resolve({ resourceId: ID }, noMcr)).rejects.toThrow(DiscoveryError);
    await expect(resolver.resolve({ resourceId: ID }, noMcr)).rejects.toThrow('boom');
    expect(r.calls).toHaveLength(1);
    fail = false;
    advance(5_000);
    expect((await resolver.resolve({ resourceId: ID }, noMcr)).regions).toEqual(['eastus', 'westeurope']);
    expect(r.calls).toHaveLength(2);
  });

  it('leaves registries given by login server to the spec resolver, without reading ARM', async () => {
    const { r, resolver } = setup();
    const e = await resolver.resolve({ loginServer: 'fabrikam.azurecr.io', regions: ['westeurope'] }, noMcr);
    expect(e.dataEndpoints).toEqual(['fabrikam.westeurope.data.azurecr.io']);
    expect(r.calls).toEqual([]);
  });

  it('refuses a registry of another cloud than the ARM it reads, before reading', async () => {
    const { r, resolver } = setup();
    await expect(resolver.resolve({ resourceId: ID, cloud: 'AzureUSGovernment' }, noMcr)).rejects.toThrow(
      /spec.registry.cloud: is AzureUSGovernment, but the operator reads Azure Resource Manager of AzurePublicCloud/,
    );
    expect(r.calls).toEqual([]);
  });
});
