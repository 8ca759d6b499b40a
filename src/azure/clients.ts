import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { ContainerServiceClient } from '@azure/arm-containerservice';
import { NetworkManagementClient } from '@azure/arm-network';
import type { TokenCredential } from '@azure/identity';
import type { CloudProfile } from '../endpoints/clouds.js';

/** The SDKs' retry settings (core-rest-pipeline): 429 and 503 honour Retry-After; other 5xx back off exponentially. */
export interface ArmRetrySettings {
  /** Default 3. */
  maxRetries?: number;
  /** Base of the exponential backoff; default 1000 ms. */
  retryDelayInMs?: number;
  /** Default 64 s. */
  maxRetryDelayInMs?: number;
}

export interface ArmClientSettings {
  cloud: CloudProfile;
  credential: TokenCredential;
  /** Default: the cloud's ARM. A test points this at a local server; the token scope stays the cloud's. */
  endpoint?: string;
  retry?: ArmRetrySettings;
  /** Prefixed to the SDK's User-Agent, so ARM's activity log names the operator. */
  userAgent?: string;
}

/**
 * The management clients, one per SDK and subscription, all on the cloud's ARM with the cloud's token scope. The
 * scope is passed explicitly to every client: the modular SDKs ask for `https://management.azure.com/.default`
 * unless told otherwise, and China's and US Government's Entra refuse that.
 */
export class ArmClients {
  private readonly registries = new Map<string, ContainerRegistryManagementClient>();
  private readonly networks = new Map<string, NetworkManagementClient>();
  private readonly containerServices = new Map<string, ContainerServiceClient>();

  constructor(readonly settings: ArmClientSettings) {}

  get endpoint(): string {
    return this.settings.endpoint ?? this.settings.cloud.armEndpoint;
  }

  /** Options every client gets; exported for tests that check them. */
  clientOptions() {
    const { cloud, retry, userAgent } = this.settings;
    return {
      endpoint: this.endpoint,
      credentials: { scopes: [cloud.armScope] },
      ...(retry ? { retryOptions: retry } : {}),
      ...(userAgent ? { userAgentOptions: { userAgentPrefix: userAgent } } : {}),
    };
  }

  /** Microsoft.ContainerRegistry (api-version 2025-11-01 in 12.0.0). */
  containerRegistry(subscriptionId: string): ContainerRegistryManagementClient {
    return memo(this.registries, subscriptionId, () => {
      return new ContainerRegistryManagementClient(this.settings.credential, subscriptionId, this.clientOptions());
    });
  }

  /** Microsoft.Network (api-version 2026-01-01 in 39.0.0). */
  network(subscriptionId: string): NetworkManagementClient {
    return memo(this.networks, subscriptionId, () => {
      return new NetworkManagementClient(this.settings.credential, subscriptionId, this.clientOptions());
    });
  }

  /** Microsoft.ContainerService (api-version 2026-06-01 in 25.5.0): AKS egress, for the registry firewall. */
  containerService(subscriptionId: string): ContainerServiceClient {
    return memo(this.containerServices, subscriptionId, () => {
      return new ContainerServiceClient(this.settings.credential, subscriptionId, this.clientOptions());
    });
  }
}

function memo<T>(map: Map<string, T>, key: string, make: () => T): T {
  const k = key.toLowerCase();
  let value = map.get(k);
  if (!value) map.set(k, (value = make()));
  return value;
}
