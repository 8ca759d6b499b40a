import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAll } from 'js-yaml';
import { TestDnsServer } from '../../test/support/dns-server.js';
import { main } from './main.js';
import { RenderError, render, type RenderOptions } from './render.js';

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
  now: new Date('2025-11-10T00:00:00Z'),
  ...extra,
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'render-test-'));
});

describe('render', () => {
  it('renders the example with the embedded snapshot, identically every time', async () => {
    const a = await render(opts(['examples/acraccess.yaml']));
    const b = await render(opts(['examples/acraccess.yaml']));
    expect(a.text).toBe(b.text);
    const docs = loadAll(a.text) as { kind: string; metadata: { name: string; namespace: string } }[];
    expect(docs.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`)).toEqual([
      'NetworkPolicy flux-system/acr-access-contoso',
    ]);
    expect(a.notes.some((n) => n.includes('DNS addresses are not resolved offline'))).toBe(true);
  });

  it('warns when the embedded snapshot is older than 30 days', async () => {
    const fresh = await render(opts(['examples/acraccess.yaml'], { now: new Date('2025-11-20T00:00:00Z') }));
    expect(fresh.notes.some((n) => n.startsWith('warning:'))).toBe(false);
    const old = await render(opts(['examples/acraccess.yaml'], { now: new Date('2026-11-24T00:00:00Z') }));
    expect(old.notes.find((n) => n.startsWith('warning:'))).toMatch(/snapshot is 386 days old .*changeNumber 376/);
  });

  it('says which document and field is wrong, for every wrong one', async () => {
    const f = await file(
      'bad.yaml',
      [
        'apiVersion: acraccess.io/v1alpha1\nkind: AcrAccess\nmetadata: {name: ok, namespace: a}\nspec: {registry: {loginServer: contoso.azurecr.io, regions: [eastus]}}',
        'apiVersion: acraccess.io/v1alpha1\nkind: AcrAccess\nmetadata: {name: broken, namespace: a}\nspec: {registry: {loginServer: contoso.azurecr.io}}',
        'apiVersion: acraccess.io/v1alpha1\nkind: AcrAccess\nmetadata: {name: worse}\nspec: {registry: {loginServer: x.azurecr.io, regions: [eastus]}, mode: Sometimes}',
      ].join('\n---\n'),
    );
    const err = await render(opts([f])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    const lines = (err as Error).message.split('\n');
    expect(lines).toContain(
      `${f}: document 2 (AcrAccess a/broken): spec.registry.regions: registry.regions is required when registry.loginServer is used: list the home region and every replica region`,
    );
    expect(lines.filter((l) => l.includes('document 3 (AcrAccess worse)'))).toHaveLength(2);
  });

  it('reports YAML syntax errors, unreadable files and resolution errors with the file', async () => {
    const f = await file('syntax.yaml', 'kind: [unclosed');
    await expect(render(opts([f]))).rejects.toThrow(`${f}: not valid YAML`);
    await expect(render(opts([path.join(dir, 'missing.yaml')]))).rejects.toThrow('cannot be read');
    const region = await file(
      'region.yaml',
      'apiVersion: acraccess.io/v1alpha1\nkind: AcrAccess\nmetadata: {name: r}\nspec: {registry: {loginServer: contoso.azurecr.io, regions: [atlantis]}}',
    );
    await expect(render(opts([region]))).rejects.toThrow(
      /document 1 \(AcrAccess r\): region atlantis has no AzureContainerRegistry service tag/,
    );
  });

  it('renders a ClusterAcrAccess into each namespace given', async () => {
    const r = await render(opts(['examples/clusteracraccess.yaml'], { namespaces: ['team-a', 'team-b'] }));
    expect(r.objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'team-a/acr-access-cluster-contoso',
      'team-b/acr-access-cluster-contoso',
    ]);
  });

  it('adds DNS answers when a DNS server is given', async () => {
    const server = new TestDnsServer({
      'contoso.azurecr.io': { A: ['10.0.0.7'] },
      'contoso.eastus.data.azurecr.io': { A: ['10.0.0.8'] },
      'azurecr.io': { A: ['20.150.0.1'] },
      'mcr.microsoft.com': { A: ['192.0.2.10'] },
    });
    try {
      const r = await render(
        opts(['examples/clusteracraccess.yaml'], { dns: [await server.start()], namespaces: ['n'] }),
      );
      const cidrs = JSON.stringify(r.objects[0]!.spec);
      expect(cidrs).toContain('"10.0.0.7/32"');
      expect(cidrs).toContain('"192.0.2.10/32"');
      expect(server.queries).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  });
});

describe('acr-access CLI', () => {
  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
    return { code, out, err };
  };

  it('prints YAML on stdout and notes on stderr', async () => {
    const r = await run('render', '-f', 'examples/acraccess.yaml');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^apiVersion: networking.k8s.io\/v1\nkind: NetworkPolicy/);
    expect(r.err).toContain('note:');
  });

  it('prints a JSON List with -o json', async () => {
    const r = await run('render', '-f', 'examples/acraccess.yaml', '-o', 'json');
    expect((JSON.parse(r.out) as { kind: string; items: unknown[] }).items).toHaveLength(1);
  });

  it('exits non-zero with the problem on stderr and nothing on stdout', async () => {
    const f = await file(
      'cli-bad.yaml',
      'apiVersion: acraccess.io/v1alpha1\nkind: AcrAccess\nmetadata: {name: b}\nspec: {registry: {loginServer: nope}}',
    );
    const r = await run('render', '-f', f);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('spec.registry.loginServer: loginServer must be');
    expect((await run('render')).code).not.toBe(0);
    expect((await run('render', '-f', f, '--dns', 'sometimes')).err).toContain('off or system');
  });
});

afterAll(() => undefined);
