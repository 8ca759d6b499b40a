import { GROUP, KIND_ACR_ACCESS, KIND_CLUSTER_ACR_ACCESS, VERSION } from './types.js';
import { acrAccessSpecSchema, clusterAcrAccessSpecSchema, statusSchema } from './schema.js';
import type { Schema } from './schema-helpers.js';

const printerColumns = [
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Registry', type: 'string', jsonPath: '.status.endpoints.loginServer' },
  { name: 'Prefixes', type: 'integer', jsonPath: '.status.addresses.prefixCount' },
  { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

function crd(
  kind: string,
  plural: string,
  shortNames: string[],
  scope: 'Namespaced' | 'Cluster',
  spec: Schema,
  description: string,
) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        shortNames,
        categories: ['acraccess'],
      },
      scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description,
              properties: {
                apiVersion: { type: 'string', description: 'API version of this object: acraccess.io/v1alpha1.' },
                kind: { type: 'string', description: `Kind of this object: ${kind}.` },
                metadata: { type: 'object' },
                spec,
                status: statusSchema,
              },
              required: ['spec'],
            },
          },
        },
      ],
    },
  };
}

export const acrAccessCrd = crd(
  KIND_ACR_ACCESS,
  'acraccesses',
  ['acra'],
  'Namespaced',
  acrAccessSpecSchema,
  'AcrAccess opens egress from pods of its namespace to one Azure Container Registry and keeps it open as Azure IP ranges and registry endpoints change.',
);

export const clusterAcrAccessCrd = crd(
  KIND_CLUSTER_ACR_ACCESS,
  'clusteracraccesses',
  ['cacra'],
  'Cluster',
  clusterAcrAccessSpecSchema,
  'ClusterAcrAccess keeps one Azure Container Registry reachable cluster-wide: pods across namespaces, kubelet image pulls on nodes, and Azure-side egress rules. Admin-only.',
);
