/**
 * The Azure side of the operator, in one place: a credential for the cloud, the management clients, and what the
 * controller takes from them (registry discovery, Service Tags). Imported only when Azure is configured (`run` with
 * --azure-subscription), so `render`, `--help` and a Kubernetes-only operator never load the Azure SDKs.
 */
import { ArmServiceTagSource } from '../addresses/arm-source.js';
import { AzureEnforcer } from '../backends/azure/enforcer.js';
import { ArmEndpointResolver } from '../endpoints/arm.js';
import { CLOUDS, type CloudName, type CloudProfile } from '../endpoints/clouds.js';
import type { EndpointResolver } from '../endpoints/endpoints.js';
import { ArmClients, type ArmRetrySettings } from './clients.js';
import { createCredential, type CredentialKind, type WorkloadIdentitySettings } from './credentials.js';
import { ArmRegistryReader, ArmServiceTagsReader } from './readers.js';

/** `--azure-cloud`, `--azure-subscription`, and what only tests and unusual set-ups change. */
export interface AzureSettings {
  cloud: CloudName;
  /** The subscription Service Tags are read in (`--service-tags arm:<location>`). */
  subscriptionId: string;
  /** Overrides the cloud's ARM endpoint (a local fake ARM in tests). The token scope stays the cloud's. */
  armEndpoint?: string;
  /** Overrides the cloud's authority host (a local fake authority in tests). */
  authorityHost?: string;
  /** Default: the AKS workload identity variables, else DefaultAzureCredential. */
  workloadIdentity?: WorkloadIdentitySettings;
  retry?: ArmRetrySettings;
}

export interface AzureConnection {
  cloud: CloudProfile;
  credentialKind: CredentialKind;
  clients: ArmClients;
  /** Discovery for `spec.registry.resourceId`; other registries go to `fallback`. */
  endpointResolver(opts: { fallback: EndpointResolver; refreshIntervalMs: number }): ArmEndpointResolver;
  /** Service Tags of the subscription's cloud, as ARM serves them. */
  serviceTagSource(location: string): ArmServiceTagSource;
  /** Writes the Azure-side rules of spec.azure; a cluster's egress IPs are read once per refresh interval. */
  enforcer(opts: { refreshIntervalMs: number }): AzureEnforcer;
}

export function connectAzure(settings: AzureSettings, opts: { userAgent?: string } = {}): AzureConnection {
  const cloud = CLOUDS[settings.cloud];
  const { credential, kind } = createCredential(cloud, {
    ...(settings.authorityHost ? { authorityHost: settings.authorityHost } : {}),
    ...(settings.workloadIdentity ? { workloadIdentity: settings.workloadIdentity } : {}),
  });
  const clients = new ArmClients({
    cloud,
    credential,
    ...(settings.armEndpoint ? { endpoint: settings.armEndpoint } : {}),
    ...(settings.retry ? { retry: settings.retry } : {}),
    ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
  });
  return {
    cloud,
    credentialKind: kind,
    clients,
    enforcer: ({ refreshIntervalMs }) => new AzureEnforcer(clients, refreshIntervalMs),
    endpointResolver: ({ fallback, refreshIntervalMs }) =>
      new ArmEndpointResolver({ reader: new ArmRegistryReader(clients), cloud, fallback, refreshIntervalMs }),
    serviceTagSource: (location) =>
      new ArmServiceTagSource(
        new ArmServiceTagsReader(clients, settings.subscriptionId),
        location,
        settings.subscriptionId,
      ),
  };
}
