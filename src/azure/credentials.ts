import { DefaultAzureCredential, WorkloadIdentityCredential, type TokenCredential } from '@azure/identity';
import type { CloudProfile } from '../endpoints/clouds.js';

/** The identity the operator uses with Azure Resource Manager. */
export type CredentialKind = 'WorkloadIdentity' | 'Default';

/** Workload identity settings: what the AKS webhook injects, or given explicitly. */
export interface WorkloadIdentitySettings {
  tenantId: string;
  clientId: string;
  /** The projected service-account token the identity is federated with. */
  tokenFilePath: string;
}

export interface CredentialSettings {
  /** Overrides the cloud's authority host (a test authority, a private cloud). */
  authorityHost?: string;
  /** Default: from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE when all three are set. */
  workloadIdentity?: WorkloadIdentitySettings;
  /** Read for the workload identity variables; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The workload identity the environment describes: in a pod labelled `azure.workload.identity/use: "true"` the AKS
 * webhook sets all three variables. Partial settings are not a workload identity (the SDK would fail on them).
 */
export function workloadIdentityFromEnv(env: NodeJS.ProcessEnv): WorkloadIdentitySettings | undefined {
  const tenantId = env.AZURE_TENANT_ID;
  const clientId = env.AZURE_CLIENT_ID;
  const tokenFilePath = env.AZURE_FEDERATED_TOKEN_FILE;
  return tenantId && clientId && tokenFilePath ? { tenantId, clientId, tokenFilePath } : undefined;
}

/**
 * The credential for one cloud. In-cluster on AKS: WorkloadIdentityCredential, named rather than found by
 * DefaultAzureCredential's chain, so a misconfigured identity fails with its own error instead of falling through to
 * a managed identity that may hold other rights. Elsewhere (a developer's machine, a VM's managed identity):
 * DefaultAzureCredential. Both ask the cloud's authority: tokens from login.microsoftonline.com are worthless for
 * China's or US Government's ARM.
 */
export function createCredential(
  cloud: CloudProfile,
  settings: CredentialSettings = {},
): { credential: TokenCredential; kind: CredentialKind } {
  const authorityHost = settings.authorityHost ?? cloud.authorityHost;
  // Instance discovery validates the authority against Microsoft's list, which only the clouds' own hosts are on.
  const custom = authorityHost !== cloud.authorityHost;
  const common = { authorityHost, ...(custom ? { disableInstanceDiscovery: true } : {}) };
  const workload = settings.workloadIdentity ?? workloadIdentityFromEnv(settings.env ?? process.env);
  if (workload) {
    return {
      credential: new WorkloadIdentityCredential({ ...common, ...workload }),
      kind: 'WorkloadIdentity',
    };
  }
  return { credential: new DefaultAzureCredential(common), kind: 'Default' };
}
