import { describe, expect, it } from 'vitest';
import { SpecEndpointResolver, allHosts } from './endpoints.js';

const resolver = new SpecEndpointResolver();
const noMcr = { includeMicrosoftContainerRegistry: false };

describe('SpecEndpointResolver', () => {
  it('Auto allows both dedicated data endpoints and the storage wildcard, per region', async () => {
    const e = await resolver.resolve({ loginServer: 'Contoso.azurecr.io', regions: ['westeurope', 'eastus'] }, noMcr);
    expect(e.loginServer).toBe('contoso.azurecr.io');
    expect(e.regions).toEqual(['eastus', 'westeurope']);
    expect(e.dataEndpoints).toEqual(['contoso.eastus.data.azurecr.io', 'contoso.westeurope.data.azurecr.io']);
    expect(e.storageHosts).toEqual(['*.blob.core.windows.net']);
    expect(allHosts(e)).toEqual([
      '*.blob.core.windows.net',
      'azurecr.io',
      'contoso.azurecr.io',
      'contoso.eastus.data.azurecr.io',
      'contoso.westeurope.data.azurecr.io',
    ]);
  });

  it('Enabled drops the storage wildcard; Disabled drops the data endpoints', async () => {
    const on = await resolver.resolve(
      { loginServer: 'contoso.azurecr.io', regions: ['eastus'], dataEndpoints: 'Enabled' },
      noMcr,
    );
    expect(on.storageHosts).toEqual([]);
    const off = await resolver.resolve(
      { loginServer: 'contoso.azurecr.io', regions: ['eastus'], dataEndpoints: 'Disabled' },
      noMcr,
    );
    expect(off.dataEndpoints).toEqual([]);
    expect(off.storageHosts).toEqual(['*.blob.core.windows.net']);
  });

  it('uses the sovereign cloud suffixes and MCR hosts', async () => {
    const cn = await resolver.resolve(
      { loginServer: 'contoso.azurecr.cn', regions: ['chinaeast2'] },
      { includeMicrosoftContainerRegistry: true },
    );
    expect(cn.cloud.name).toBe('AzureChinaCloud');
    expect(allHosts(cn)).toEqual([
      '*.blob.core.chinacloudapi.cn',
      '*.data.mcr.azure.cn',
      'azurecr.cn',
      'contoso.azurecr.cn',
      'contoso.chinaeast2.data.azurecr.cn',
      'mcr.azure.cn',
    ]);
    const gov = await resolver.resolve({ loginServer: 'contoso.azurecr.us', regions: ['usgovvirginia'] }, noMcr);
    expect(gov.storageHosts).toEqual(['*.blob.core.usgovcloudapi.net']);
  });

  it('keeps the DNL hash of a login server in its data endpoints', async () => {
    const e = await resolver.resolve(
      { loginServer: 'contoso-e7ggejfuhzhgedc8.azurecr.io', regions: ['eastus'] },
      noMcr,
    );
    expect(e.dataEndpoints).toEqual(['contoso-e7ggejfuhzhgedc8.eastus.data.azurecr.io']);
  });

  it('says that a resource id needs ARM discovery', async () => {
    await expect(resolver.resolve({ resourceId: '/subscriptions/x' }, noMcr)).rejects.toThrow(/Azure Resource Manager/);
  });
});
