import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { render } from '../../src/cli/render.js';
import type { KubeObject } from '../../src/kube/types.js';
import { test } from '../support/cluster.js';

const resource = (spec: string) =>
  `apiVersion: acraccess.io/v1alpha1\nkind: AcrAccess\nmetadata: {name: reg}\nspec: ${spec}\n`;

const CASES: [string, string][] = [
  [
    'two regions with dedicated data endpoints',
    '{registry: {loginServer: contoso.azurecr.io, regions: [eastus, westeurope], dataEndpoints: Enabled}, podSelector: {matchLabels: {app: flux}}}',
  ],
  [
    'MCR included, IPv4 only, DNS rule off',
    '{registry: {loginServer: contoso.azurecr.io, regions: [northeurope]}, includeMicrosoftContainerRegistry: true, ipFamilies: [IPv4], dnsEgress: {enabled: false}}',
  ],
  [
    'custom DNS target',
    '{registry: {loginServer: contoso.azurecr.io, regions: [swedencentral]}, dnsEgress: {podSelector: {matchLabels: {k8s-app: node-local-dns}}}}',
  ],
  ['Azure China', '{registry: {loginServer: contoso.azurecr.cn, regions: [chinaeast2]}}'],
  ['Azure US Government', '{registry: {loginServer: contoso.azurecr.us, regions: [usgovvirginia]}}'],
  [
    'six regions',
    '{registry: {loginServer: contoso.azurecr.io, regions: [eastus, eastus2, westus2, westeurope, northeurope, southeastasia]}}',
  ],
];

describe('rendered NetworkPolicies in the real API server', () => {
  test.for(CASES)('%s: accepted, and stored exactly as planned', async ([, spec], { namespace, admin }) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'np-'));
    const file = path.join(dir, 'r.yaml');
    await writeFile(file, resource(spec));
    const { objects } = await render({
      files: [file],
      backend: 'networkpolicy',
      output: 'yaml',
      dns: 'off',
      namespaces: [],
    });
    expect(objects.length).toBeGreaterThan(0);
    for (const planned of objects) {
      const obj: KubeObject = { ...planned, metadata: { ...planned.metadata, namespace } };
      await admin.apply(obj, { dryRun: true });
      const stored = await admin.apply(obj);
      // The server adds nothing to the spec, so comparing planned with live is exact.
      expect(stored.spec).toEqual(obj.spec);
      expect(stored.metadata.labels).toEqual(obj.metadata.labels);
      expect(stored.metadata.annotations).toEqual(obj.metadata.annotations);
    }
  });
});
