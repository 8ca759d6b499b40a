/**
 * ARM answers for the fake, made from the REST specs' own examples (shared/upstream/arm-examples, see SOURCES.md):
 * each body starts as the example's and only the fields a test is about are changed, so the SDKs deserialise what
 * ARM really sends (flattened `properties`, `value` lists, string change numbers).
 */
import { readFileSync } from 'node:fs';
import { findUpstreamFile } from '../../fixtures/upstream.js';
import type { FeedDoc } from '../feeds.js';

type Json = Record<string, unknown>;

function example(relative: string): Json {
  const file = findUpstreamFile(`arm-examples/${relative}`);
  if (!file)
    throw new Error(`shared/upstream/arm-examples/${relative} is missing: the fake ARM answers are made from it`);
  return JSON.parse(readFileSync(file, 'utf8')) as Json;
}

const body = (doc: Json, status = '200') =>
  structuredClone((doc.responses as Record<string, { body: Json }>)[status]!.body);

/** A registry as a test describes it. */
export interface FakeRegistry {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** Home region. */
  location: string;
  sku?: 'Basic' | 'Standard' | 'Premium';
  /** As ARM reports it: never derived by the fake either. */
  loginServer: string;
  dataEndpointEnabled?: boolean;
  dataEndpointHostNames?: string[];
  publicNetworkAccess?: 'Enabled' | 'Disabled';
  ipRules?: string[];
  /** Replica regions, the home region included (ARM lists the home replication too). */
  replications?: string[];
}

export const registryId = (r: Pick<FakeRegistry, 'subscriptionId' | 'resourceGroup' | 'name'>) =>
  `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${r.name}`;

/** Registries_Get, from RegistryGet.json. */
export function registryBody(r: FakeRegistry): Json {
  const b = body(example('Microsoft.ContainerRegistry/RegistryGet.json'));
  const tier = r.sku ?? 'Premium';
  Object.assign(b, { id: registryId(r), name: r.name, location: r.location, sku: { name: tier, tier } });
  Object.assign(b.properties as Json, {
    loginServer: r.loginServer,
    dataEndpointEnabled: r.dataEndpointEnabled ?? false,
    dataEndpointHostNames: r.dataEndpointEnabled ? (r.dataEndpointHostNames ?? []) : [],
    publicNetworkAccess: r.publicNetworkAccess ?? 'Enabled',
    networkRuleSet: {
      defaultAction: r.ipRules?.length ? 'Deny' : 'Allow',
      ipRules: (r.ipRules ?? []).map((value) => ({ action: 'Allow', value })),
    },
  });
  return b;
}

/** Replications_List, from ReplicationList.json: one entry per region. */
export function replicationListBody(r: FakeRegistry): Json {
  const b = body(example('Microsoft.ContainerRegistry/ReplicationList.json'));
  const template = (b.value as Json[])[0]!;
  b.value = (r.replications ?? [r.location]).map((location) => ({
    ...structuredClone(template),
    id: `${registryId(r)}/replications/${location}`,
    name: location,
    location,
  }));
  return b;
}

/**
 * ServiceTags_List, from ServiceTagsList.json, carrying a real feed's tags: change numbers as strings, no
 * regionId/platform/networkFeatures (the example has none), and an empty nextLink as ARM sends for a whole answer.
 */
export function serviceTagsBody(feed: FeedDoc, subscriptionId: string, changeNumber = feed.changeNumber): Json {
  const b = body(example('Microsoft.Network/ServiceTagsList.json'));
  return {
    ...b,
    id: `/subscriptions/${subscriptionId}/providers/Microsoft.Network/serviceTags/public`,
    changeNumber: String(changeNumber),
    cloud: feed.cloud,
    values: feed.values.map((v) => ({
      name: v.name,
      id: v.id,
      properties: {
        addressPrefixes: v.properties.addressPrefixes,
        changeNumber: String(v.properties.changeNumber),
        region: v.properties.region,
        systemService: (v.properties.systemService as string | undefined) ?? '',
      },
    })),
    nextLink: '',
  };
}

/** ManagedClusters_Get, from ManagedClustersGet.json. */
export function managedClusterBody(subscriptionId: string, resourceGroup: string, name: string): Json {
  const b = body(example('Microsoft.ContainerService/ManagedClustersGet.json'));
  return {
    ...b,
    id: `/subscriptions/${subscriptionId}/resourcegroups/${resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${name}`,
    name,
  };
}

/** ARM's error body. */
export const armError = (code: string, message: string) => ({ error: { code, message } });
