import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AzureSettings } from '../../../src/azure/connect.js';
import { CLOUDS, type CloudName } from '../../../src/endpoints/clouds.js';
import { FakeArm } from './server.js';
import { createTestTls, trustInThisProcess } from './tls.js';

export { FakeArm, PINNED_API_VERSIONS } from './server.js';
export * from './payloads.js';
export { FakeRegistryFirewall } from './registry-firewall.js';

export const SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';

export interface FakeArmHarness {
  fake: FakeArm;
  /** The operator's Azure settings for the fake: its ARM and authority, a workload identity with a token file. */
  settings(overrides?: Partial<AzureSettings>): AzureSettings;
  stop(): Promise<void>;
}

/**
 * A fake ARM over HTTPS with a CA made now and trusted by this process, and a projected-token file for the workload
 * identity, as the AKS webhook provides one. `cloud` sets the token scope the fake expects.
 */
export async function startFakeArm(cloud: CloudName = 'AzurePublicCloud'): Promise<FakeArmHarness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fake-arm-'));
  const tls = await createTestTls(dir);
  trustInThisProcess(tls.ca);
  const fake = await FakeArm.start(tls, { expectedScope: CLOUDS[cloud].armScope });
  const tokenFilePath = path.join(dir, 'azure-identity-token');
  await writeFile(tokenFilePath, fake.identity.assertion, { mode: 0o600 });
  return {
    fake,
    settings: (overrides = {}) => ({
      cloud,
      subscriptionId: SUBSCRIPTION,
      armEndpoint: fake.url,
      authorityHost: fake.url,
      workloadIdentity: { tenantId: fake.identity.tenantId, clientId: fake.identity.clientId, tokenFilePath },
      // Quick backoff for 5xx; 429 waits for Retry-After whatever this says.
      retry: { maxRetries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
      ...overrides,
    }),
    async stop() {
      await fake.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
