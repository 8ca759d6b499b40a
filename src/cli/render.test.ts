import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAll } from 'js-yaml';
import { TestDnsServer } from '../../test/support/dns-server.js';
import { CliError, EXIT } from './errors.js';
import { render, type RenderOptions } from './render.js';

let dir: string;
const file = async (name: string, text: string) => {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
};
const opts = (files: string[], extra: Partial<RenderOptions> = {}): RenderOptions => ({
  files,
  backend: 'networkpolicy',
  output: 'yaml',
  dns: 'off',
  namespaces: [],
  // The embedded public snapshot is of 2025-11-03: a week later it is current.
  now: new Date('2025-11-10T00:00:00Z'),
  ...extra,
});
const doc = (kind: string, name: string, spec: string, namespace = '') =>
  `apiVersion: acraccess.io/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}${namespace ? `, namespace: ${namespace}` : ''}}\nspec: ${spec}\n`;
const REGISTRY = '{loginServer: contoso.azurecr.io, regions: [eastus]}';
const ok = (name: string, extra = '') =>
  doc('AcrAccess', name, `{registry: ${REGISTRY}, addressSources: [ServiceTags]${extra}}`, 'a');
const failure = (e: unknown) => (e instanceof CliError ? { code: e.exitCode, message: e.message } : e);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'render-test-'));
});

describe('render', () => {
  it('renders the example with the embedded snapshot, identically every time, with nothing to say', async () => {
    const a = await render(opts(['examples/acraccess.yaml']));
    const b = await render(opts(['examples/acraccess.yaml']));
    expect(a.text).toBe(b.text);
    const docs = loadAll(a.text) as { kind: string; metadata: { name: string; namespace: string } }[];
    expect(docs.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`)).toEqual([
      'NetworkPolicy flux-system/acr-access-contoso',
    ]);
    expect(a.notes).toEqual([]);
    expect(a.exitCode).toBe(EXIT.ok);
  });

  it('warns when the embedded snapshot is older than 30 days', async () => {
    const fresh = await render(opts(['examples/acraccess.yaml'], { now: new Date('2025-11-20T00:00:00Z') }));
    expect(fresh.notes).toEqual([]);
    const old = await render(opts(['examples/acraccess.yaml'], { now: new Date('2026-11-25T00:00:00Z') }));
    expect(old.notes).toEqual([
      'warning: the embedded Service Tags snapshot for AzurePublicCloud (ServiceTags_Public_20251103.json, changeNumber 376) is 387 days old; Azure updates the ranges weekly: pass --service-tags file:<path> with a current weekly file',
    ]);
    // Asked for by name, the snapshot is a deliberate choice (examples, reviews): no warning.
    const chosen = await render(
      opts(['examples/acraccess.yaml'], { now: new Date('2026-11-25T00:00:00Z'), serviceTags: [{ kind: 'embedded' }] }),
    );
    expect(chosen.notes).toEqual([]);
    expect(chosen.text).toBe(old.text);
  });

  it('says which document and field is wrong, for every wrong one, and renders nothing (exit 3)', async () => {
    const f = await file(
      'bad.yaml',
      [
        ok('fine'),
        doc('AcrAccess', 'broken', '{registry: {loginServer: contoso.azurecr.io}}', 'a'),
        doc('AcrAccess', 'worse', `{registry: ${REGISTRY}, mode: Sometimes}`),
      ].join('---\n'),
    );
    const err = failure(await render(opts([f])).catch((e: unknown) => e)) as { code: number; message: string };
    expect(err.code).toBe(EXIT.invalid);
    const lines = err.message.split('\n');
    expect(lines.some((l) => l.startsWith(`${f}: document 2 (AcrAccess a/broken): spec.registry`))).toBe(true);
    expect(lines.filter((l) => l.includes('document 3 (AcrAccess worse)'))).toHaveLength(1);
    expect(lines.some((l) => l.includes('document 1'))).toBe(false);
  });

  it('reports YAML syntax errors (exit 3) and unreadable files (exit 2) with the file', async () => {
    const f = await file('syntax.yaml', 'kind: [unclosed');
    expect(failure(await render(opts([f])).catch((e: unknown) => e))).toMatchObject({
      code: EXIT.invalid,
      message: expect.stringContaining(`${f}: not valid YAML`) as unknown,
    });
    const missing = path.join(dir, 'missing.yaml');
    expect(failure(await render(opts([missing])).catch((e: unknown) => e))).toEqual({
      code: EXIT.usage,
      message: `${missing}: cannot be read (no such file or directory)`,
    });
  });

  it('reports a resolution failure with the reason the operator sets, and still renders the others (exit 1)', async () => {
    const f = await file(
      'region.yaml',
      [
        doc('AcrAccess', 'r', '{registry: {loginServer: contoso.azurecr.io, regions: [atlantis]}}', 'a'),
        ok('fine'),
      ].join('---\n'),
    );
    const r = await render(opts([f]));
    expect(r.exitCode).toBe(EXIT.failed);
    expect(r.objects.map((o) => o.metadata.name)).toEqual(['acr-access-fine']);
    const error = r.notes.filter((n) => n.startsWith('error:'));
    expect(error).toHaveLength(1);
    expect(error[0]).toMatch(
      /^error: .*region\.yaml: document 1 \(AcrAccess a\/r\): (EndpointsUnresolvable|AddressesUnresolvable): .*atlantis/,
    );
  });
});

describe('render gives the operator’s verdict', () => {
  it('prints no objects for a refused resource, says exactly why, and renders the rest (exit 1)', async () => {
    const f = await file(
      'refused.yaml',
      [
        ok('fine'),
        ok('calico', ', backends: [Calico]'),
        doc('AcrAccess', 'other', '{registry: {loginServer: fabrikam.azurecr.io, regions: [eastus]}}', 'a'),
      ].join('---\n'),
    );
    const r = await render(opts([f], { allowedRegistries: ['contoso.azurecr.io'] }));
    expect(r.exitCode).toBe(EXIT.failed);
    expect(r.objects.map((o) => o.metadata.name)).toEqual(['acr-access-fine']);
    expect(r.notes).toEqual([
      `error: ${f}: document 2 (AcrAccess a/calico): Stalled BackendUnavailable: Calico: Calico is not enabled (acr-access run --backends, render --backend)`,
      `error: ${f}: document 3 (AcrAccess a/other): Stalled RegistryNotAllowed: registry fabrikam.azurecr.io is not in the operator's allowed registries (contoso.azurecr.io)`,
    ]);
    // Without --allowed-registries every registry is allowed, as in `acr-access run`.
    expect((await render(opts([f]))).objects).toHaveLength(2);
  });

  it('refuses a registry given by resourceId only: discovery from ARM is not available', async () => {
    const id =
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/contoso';
    const f = await file('arm.yaml', doc('AcrAccess', 'arm', `{registry: {resourceId: "${id}"}}`, 'a'));
    const r = await render(opts([f]));
    expect(r.exitCode).toBe(EXIT.failed);
    expect(r.objects).toEqual([]);
    expect(r.notes[0]).toContain(
      'Stalled DiscoveryUnavailable: spec.registry.resourceId alone needs endpoint discovery',
    );
  });

  it('writes nothing in Audit mode and says so; the table still shows what would be allowed', async () => {
    const f = await file('audit.yaml', ok('audited', ', mode: Audit'));
    const r = await render(opts([f]));
    expect(r.exitCode).toBe(EXIT.ok);
    expect(r.text).toBe('');
    expect(r.notes).toEqual([
      `note: ${f}: document 1 (AcrAccess a/audited): Audit: mode is Audit: the policies are computed and reported, nothing is written`,
    ]);
    const table = await render(opts([f], { output: 'table' }));
    expect(table.text).toMatch(/^AcrAccess a\/audited: nothing written\n {2}note {5}Audit: /);
    expect(table.text).toMatch(/\n {2}\d+\.\d+\.\d+\.\d+\/\d+ +AzureContainerRegistry\.EastUS/);
  });

  it('renders nothing for a ClusterAcrAccess without namespaceSelector, even with --namespace', async () => {
    const f = await file(
      'noselector.yaml',
      doc('ClusterAcrAccess', 'wide', `{registry: ${REGISTRY}, addressSources: [ServiceTags]}`),
    );
    const r = await render(opts([f], { namespaces: ['team-a'] }));
    expect(r.objects).toEqual([]);
    expect(r.notes).toEqual([
      `note: ${f}: document 1 (ClusterAcrAccess wide): NoNamespaceSelector: spec.namespaceSelector is not set, so no namespace is selected and no pod-plane objects are written; set it to open egress for pods of the selected namespaces`,
    ]);
  });

  it('names the fields it does not act on yet, and renders the pod plane', async () => {
    const f = await file(
      'azure.yaml',
      doc(
        'ClusterAcrAccess',
        'nodes',
        `{registry: ${REGISTRY}, addressSources: [ServiceTags], namespaceSelector: {matchLabels: {t: a}}, nodeSelector: {matchLabels: {pool: x}}, azure: {registryFirewall: {enabled: true, egressIPs: [203.0.113.7]}}}`,
      ),
    );
    const r = await render(opts([f], { namespaces: ['team-a', 'team-b'], watchedNamespaces: ['team-b'] }));
    expect(r.notes).toEqual([
      `note: ${f}: document 1 (ClusterAcrAccess nodes): AzureNotConfigured: spec.azure is not acted on: Azure-side rules are written only by the operator running with Azure Resource Manager access (--azure-subscription; Helm: azure.subscriptionId); render prints the Kubernetes objects only`,
    ]);
    // Only watched namespaces are written, as the operator does.
    expect(r.objects.map((o) => o.metadata.namespace)).toEqual(['team-b']);
  });

  it('leaves out system namespaces the selector does not name, as the operator does', async () => {
    const wide = doc(
      'ClusterAcrAccess',
      'wide',
      `{registry: ${REGISTRY}, addressSources: [ServiceTags], namespaceSelector: {}}`,
    );
    const named = doc(
      'ClusterAcrAccess',
      'named',
      `{registry: ${REGISTRY}, addressSources: [ServiceTags], namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}`,
    );
    const f = await file('system.yaml', [wide, named].join('---\n'));
    const r = await render(opts([f], { namespaces: ['kube-system', 'team-a'] }));
    expect(r.objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      expect.stringMatching(/^team-a\/.*wide$/),
      expect.stringMatching(/^kube-system\/.*named$/),
      expect.stringMatching(/^team-a\/.*named$/),
    ]);
    expect(r.notes).toEqual([
      `note: ${f}: document 1 (ClusterAcrAccess wide): namespaces kube-system match namespaceSelector but are system or operator namespaces, selected only when named by kubernetes.io/metadata.name`,
    ]);
  });

  it('renders a ClusterAcrAccess into each namespace given', async () => {
    const r = await render(opts(['examples/clusteracraccess.yaml'], { namespaces: ['team-b', 'team-a'] }));
    expect(r.objects.map((o) => o.metadata.namespace)).toEqual(['team-a', 'team-b']);
    expect(r.notes).toEqual([
      'note: examples/clusteracraccess.yaml: document 1 (ClusterAcrAccess contoso): DNS addresses are not resolved offline (pass --dns system or --dns <server>); using ServiceTags only',
    ]);
  });

  it('adds DNS answers when a DNS server is given, and the table says which host each came from', async () => {
    const server = new TestDnsServer({
      'contoso.azurecr.io': { A: ['10.0.0.7'] },
      'contoso.eastus.data.azurecr.io': { A: ['10.0.0.8'] },
      'azurecr.io': { A: ['20.150.0.1'] },
      'mcr.microsoft.com': { A: ['192.0.2.10'] },
    });
    try {
      const r = await render(
        opts(['examples/clusteracraccess.yaml'], { dns: [await server.start()], namespaces: ['n'], output: 'table' }),
      );
      const cidrs = JSON.stringify(r.objects[0]!.spec);
      expect(cidrs).toContain('"10.0.0.7/32"');
      expect(cidrs).toContain('"192.0.2.10/32"');
      expect(r.text).toMatch(/\n {2}dns {6}contoso\.azurecr\.io → 10\.0\.0\.7\n/);
      expect(r.text).toMatch(/\n {2}10\.0\.0\.7\/32 +dns:contoso\.azurecr\.io\n/);
    } finally {
      await server.stop();
    }
  });
});

describe('render output and feeds', () => {
  it('prints kubectl-style names with -o name and a v1 List with -o json', async () => {
    const f = await file('two.yaml', [ok('one'), ok('two')].join('---\n'));
    expect((await render(opts([f], { output: 'name' }))).text).toBe(
      'networkpolicy.networking.k8s.io/acr-access-one\nnetworkpolicy.networking.k8s.io/acr-access-two\n',
    );
    const json = JSON.parse((await render(opts([f], { output: 'json' }))).text) as { kind: string; items: unknown[] };
    expect(json.kind).toBe('List');
    expect(json.items).toHaveLength(2);
  });

  it('streams the same bytes it would collect, in every format, and keeps nothing once written', async () => {
    const f = await file('stream.yaml', [ok('one'), ok('audit', ', mode: Audit'), ok('two')].join('---\n'));
    for (const output of ['yaml', 'json', 'name', 'table'] as const) {
      const collected = await render(opts([f], { output }));
      let streamed = '';
      const r = await render(opts([f], { output, write: (s) => void (streamed += s) }));
      expect(streamed).toBe(collected.text);
      expect([r.text, r.objects, r.resources.flatMap((x) => x.objects)]).toEqual(['', [], []]);
      if (output === 'json') {
        const list = { apiVersion: 'v1', kind: 'List', items: collected.objects };
        expect(streamed).toBe(JSON.stringify(list, null, 2) + '\n');
      }
    }
    const none = await render(opts([await file('none.yaml', ok('a', ', mode: Audit'))], { output: 'json' }));
    expect(none.text).toBe(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [] }, null, 2) + '\n');
  });

  it('takes one feed per cloud, and says which cloud has none', async () => {
    const cn = doc(
      'AcrAccess',
      'cn',
      '{registry: {loginServer: contoso.azurecr.cn, regions: [chinaeast2]}, addressSources: [ServiceTags]}',
      'a',
    );
    const f = await file('clouds.yaml', [ok('io'), cn].join('---\n'));
    const files = [
      { kind: 'file', path: 'data/servicetags/public.json' },
      { kind: 'file', path: 'data/servicetags/china.json' },
    ] as const;
    const r = await render(opts([f], { serviceTags: [...files], output: 'table' }));
    expect(r.exitCode).toBe(EXIT.ok);
    expect(r.text).toContain('feed     Public changeNumber 376 (file data/servicetags/public.json)');
    expect(r.text).toContain('feed     China changeNumber 401 (file data/servicetags/china.json)');
    expect(failure(await render(opts([f], { serviceTags: [files[0]] })).catch((e: unknown) => e))).toEqual({
      code: EXIT.usage,
      message: `${f}: document 2 (AcrAccess a/cn): no Service Tags feed for AzureChinaCloud: --service-tags gives Public only; add file:<path> with the China weekly file, or embedded`,
    });
    // embedded serves the clouds no file covers.
    const mixed = await render(opts([f], { serviceTags: [files[0], { kind: 'embedded' }], output: 'table' }));
    expect(mixed.text).toMatch(/feed {5}China changeNumber 401 \(embedded snapshot/);
    expect(
      failure(await render(opts([f], { serviceTags: [files[0], files[0]] })).catch((e: unknown) => e)),
    ).toMatchObject({
      code: EXIT.usage,
      message: expect.stringContaining('are both for cloud Public; give one file per cloud') as unknown,
    });
  });

  it('refuses a feed file the operator would refuse: a prefix wider than Azure publishes', async () => {
    const feed = JSON.parse(await readFile('data/servicetags/public.json', 'utf8')) as {
      values: { name: string; properties: { addressPrefixes: string[] } }[];
    };
    feed.values.find((v) => v.name === 'AzureContainerRegistry.EastUS')!.properties.addressPrefixes.push('0.0.0.0/0');
    const wide = await file('ServiceTags_Public_20261116.json', JSON.stringify(feed));
    const f = await file('one.yaml', ok('one'));
    const err = failure(
      await render(opts([f], { serviceTags: [{ kind: 'file', path: wide }] })).catch((e: unknown) => e),
    );
    expect(err).toMatchObject({ code: EXIT.usage });
    expect((err as { message: string }).message).toMatch(/refused \(FeedOutOfBounds\).*0\.0\.0\.0\/0/);
  });
});
