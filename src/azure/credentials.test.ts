import { DefaultAzureCredential, WorkloadIdentityCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { CLOUDS } from '../endpoints/clouds.js';
import { ArmClients } from './clients.js';
import { createCredential, workloadIdentityFromEnv } from './credentials.js';
import { DiscoveryError, describeAzureError } from './errors.js';

const WI = {
  AZURE_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
  AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token',
};

describe('credentials', () => {
  it('uses the workload identity the AKS webhook describes, all three variables or none', () => {
    expect(workloadIdentityFromEnv(WI)).toEqual({
      tenantId: WI.AZURE_TENANT_ID,
      clientId: WI.AZURE_CLIENT_ID,
      tokenFilePath: WI.AZURE_FEDERATED_TOKEN_FILE,
    });
    expect(workloadIdentityFromEnv({ ...WI, AZURE_FEDERATED_TOKEN_FILE: '' })).toBeUndefined();
    const inCluster = createCredential(CLOUDS.AzurePublicCloud, { env: WI });
    expect(inCluster.kind).toBe('WorkloadIdentity');
    expect(inCluster.credential).toBeInstanceOf(WorkloadIdentityCredential);
    const elsewhere = createCredential(CLOUDS.AzureChinaCloud, { env: { AZURE_CLIENT_ID: WI.AZURE_CLIENT_ID } });
    expect(elsewhere.kind).toBe('Default');
    expect(elsewhere.credential).toBeInstanceOf(DefaultAzureCredential);
  });

  it('has each cloud its own ARM, authority and token scope', () => {
    expect(Object.values(CLOUDS).map((c) => [c.name, c.armEndpoint, c.authorityHost, c.armScope])).toEqual([
      [
        'AzurePublicCloud',
        'https://management.azure.com',
        'https://login.microsoftonline.com',
        'https://management.azure.com/.default',
      ],
      [
        'AzureChinaCloud',
        'https://management.chinacloudapi.cn',
        'https://login.chinacloudapi.cn',
        'https://management.chinacloudapi.cn/.default',
      ],
      [
        'AzureUSGovernment',
        'https://management.usgovcloudapi.net',
        'https://login.microsoftonline.us',
        'https://management.usgovcloudapi.net/.default',
      ],
    ]);
  });

  it("gives every client the cloud's scope, also when the endpoint is overridden", () => {
    const credential = createCredential(CLOUDS.AzureUSGovernment, { env: {} }).credential;
    const gov = new ArmClients({ cloud: CLOUDS.AzureUSGovernment, credential });
    expect(gov.clientOptions()).toEqual({
      endpoint: 'https://management.usgovcloudapi.net',
      credentials: { scopes: ['https://management.usgovcloudapi.net/.default'] },
    });
    const local = new ArmClients({ cloud: CLOUDS.AzureUSGovernment, credential, endpoint: 'https://127.0.0.1:8443' });
    expect(local.clientOptions().credentials.scopes).toEqual(['https://management.usgovcloudapi.net/.default']);
    // One client per subscription and SDK, reused.
    expect(gov.network('A-1')).toBe(gov.network('a-1'));
  });
});

describe('describeAzureError', () => {
  it("says ARM's status and code, on one line", () => {
    const rest = Object.assign(new Error('The request is being throttled.\n  Retry later.'), {
      statusCode: 429,
      code: 'TooManyRequests',
    });
    expect(describeAzureError(rest)).toEqual({
      status: 429,
      code: 'TooManyRequests',
      message: '429 TooManyRequests: The request is being throttled. Retry later.',
    });
    expect(describeAzureError(new Error('socket hang up')).message).toBe('socket hang up');
    expect(new DiscoveryError('DiscoveryFailed', 'x').name).toBe('DiscoveryError');
  });
});
