import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest';
import type { Operator } from '../../src/controller/operator.js';
import { repoRoot } from '../../hack/tools/tools.js';
import { clientFor, test } from '../support/cluster.js';
import { TestDnsServer } from '../support/dns-server.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../support/operator.js';
import { TOOLS_TIMEOUT_MS, kubectl, kubectlOk, tools, verdicts } from './support.js';

// What a cluster admin types: the real kubectl (built from k8s.io/kubernetes at the control plane's version) against
// examples/ and the CRDs' printer columns, explain output and conditions; then kstatus and the Argo CD Lua check
// on the same live objects.

const EXAMPLES = path.join(repoRoot, 'examples');
let operator: Operator | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await operator?.stop();
  operator = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
});
// examples/clusteracraccess.yaml takes addresses from DNS too (a private endpoint): a loopback resolver answers.
const dns = new TestDnsServer({
  'contoso.azurecr.io': { A: ['192.0.2.7'], ttl: 300 },
  'mcr.microsoft.com': { A: ['192.0.2.20'], ttl: 300 },
});
let resolver: string;
beforeAll(async () => {
  [resolver] = await Promise.all([dns.start(), tools(), installOperatorPrerequisites(clientFor('admin'))]);
}, TOOLS_TIMEOUT_MS);
afterAll(() => dns.stop());

describe('kubectl against the CRDs and examples/', () => {
  test('explain documents the fields of both kinds', { timeout: 60_000 }, async () => {
    const registry = await kubectlOk(['explain', 'acraccess.spec.registry']);
    expect(registry).toMatch(/^GROUP:\s+acraccess\.io$/m);
    expect(registry).toMatch(/^KIND:\s+AcrAccess$/m);
    for (const field of ['loginServer', 'regions', 'dataEndpoints', 'cloud'])
      expect(registry).toMatch(new RegExp(`^\\s+${field}\\s+<`, 'm'));
    // Descriptions come through, not just names.
    expect(registry.split('\n').filter((l) => /^\s{4}\S/.test(l)).length).toBeGreaterThan(5);
    const selector = await kubectlOk(['explain', 'cacra.spec.namespaceSelector']);
    expect(selector).toMatch(/^KIND:\s+ClusterAcrAccess$/m);
    expect(selector).toMatch(/matchLabels/);
  });

  test(
    'apply -f examples/, wait for Ready, get shows the columns with real values',
    { timeout: 120_000 },
    async ({ namespace, admin }) => {
      // examples/acraccess.yaml lives in flux-system; the ClusterAcrAccess selects namespaces labelled acr-access=contoso.
      const created = await kubectl(['create', 'namespace', 'flux-system']);
      if (created.code === 0) cleanups.push(() => kubectl(['delete', 'namespace', 'flux-system', '--wait=false']));
      await kubectlOk(['label', 'namespace', namespace, 'acr-access=contoso']);
      await kubectlOk(['apply', '-f', EXAMPLES]);
      cleanups.push(() => kubectl(['delete', '-f', EXAMPLES, '--ignore-not-found', '--wait=false']));

      // Nothing reconciles yet: wait times out (non-zero), and the Ready column is empty.
      const early = await kubectl([
        'wait',
        '--for=condition=Ready',
        'acraccess/contoso',
        '-n',
        'flux-system',
        '--timeout=2s',
      ]);
      expect(early.code).not.toBe(0);
      expect(early.stderr).toMatch(/timed out/);

      await bindOperatorNamespace(admin, namespace);
      operator = await startTestOperator(namespace, { watchedNamespaces: ['flux-system', namespace], dns: [resolver] });
      const waited = await kubectl(
        ['wait', '--for=condition=Ready', 'acraccess/contoso', '-n', 'flux-system', '--timeout=60s'],
        {
          timeoutMs: 70_000,
        },
      );
      expect(waited.stderr).toBe('');
      expect(waited.stdout.trim()).toBe('acraccess.acraccess.io/contoso condition met');
      const cluster = await kubectl(['wait', '--for=condition=Ready', 'clusteracraccess/contoso', '--timeout=60s'], {
        timeoutMs: 70_000,
      });
      const conditions = await kubectl(['get', 'cacra', 'contoso', '-o', 'jsonpath={.status.conditions}']);
      expect(cluster.code, conditions.stdout).toBe(0);

      const table = await kubectlOk(['get', 'acra,cacra', '-A']);
      const headers = table.split('\n').filter((l) => l.startsWith('NAMESPACE'));
      expect(headers).toHaveLength(2);
      for (const h of headers)
        expect(h.split(/\s{2,}/)).toEqual(['NAMESPACE', 'NAME', 'READY', 'REGISTRY', 'PREFIXES', 'AGE']);
      for (const [ref, resource, ns] of [
        ['acraccess.acraccess.io/contoso', 'acraccess/contoso', 'flux-system'],
        ['clusteracraccess.acraccess.io/contoso', 'clusteracraccess/contoso', undefined],
      ] as const) {
        const row = table.split('\n').find((l) => l.includes(ref));
        const status = JSON.parse(
          await kubectlOk([
            'get',
            resource,
            '-o',
            'jsonpath={.status.addresses.prefixCount}',
            ...(ns ? ['-n', ns] : []),
          ]),
        ) as number;
        expect(status).toBeGreaterThan(0);
        expect(
          row
            ?.trim()
            .split(/\s+/)
            .slice(ns ? 1 : 0, ns ? 5 : 4),
        ).toEqual([ref, 'True', 'contoso.azurecr.io', String(status)]);
      }
      // -o wide adds the Reason column (priority 1).
      const wide = await kubectlOk(['get', 'acra', '-n', 'flux-system', '-o', 'wide']);
      expect(wide.split('\n')[0]!.split(/\s{2,}/)).toContain('REASON');

      // The same live objects: Flux's kstatus and the shipped Argo CD Lua check agree they are done.
      for (const [resource, ns] of [['acraccess/contoso', 'flux-system'], ['clusteracraccess/contoso']] as const) {
        const v = await verdicts(resource, ns);
        expect(v.kstatus.status, resource).toBe('Current');
        expect(v.argo.status, resource).toBe('Healthy');
      }
    },
  );
});
