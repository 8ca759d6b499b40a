// The CLI in-process through main(): flags, messages and exit codes.
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TestDnsServer } from '../../test/support/dns-server.js';
import { parseDnsServers } from './flags.js';
import { main } from './main.js';

const run = async (argv: string[], stdin?: string) => {
  let out = '';
  let err = '';
  const code = await main(argv, {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    ...(stdin !== undefined ? { stdin: Readable.from([stdin]) } : {}),
  });
  return { code, out, err };
};
const EXAMPLE = ['render', '-f', 'examples/acraccess.yaml'];
const NO_WARNING = (err: string) => err.replace(/^warning: the embedded Service Tags snapshot .*\n/m, '');

describe('acr-access', () => {
  it("the README's first command prints the policy and nothing on stderr", async () => {
    const line = readFileSync('README.md', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('npx acr-access render'));
    const argv = line!.replace(/#.*$/, '').trim().split(/\s+/).slice(2);
    expect(argv.slice(0, 3)).toEqual(EXAMPLE);
    const r = await run(argv);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^apiVersion: networking.k8s.io\/v1\nkind: NetworkPolicy/);
    expect(r.err).toBe('');
  });

  it('prints YAML on stdout and exits 0', async () => {
    const r = await run(EXAMPLE);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^apiVersion: networking.k8s.io\/v1\nkind: NetworkPolicy/);
    expect(NO_WARNING(r.err)).toBe('');
  });

  it('prints the version from package.json, and help with the exit codes', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(await run(['--version'])).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/render \[options\]/);
    expect(help.out).toMatch(/run .*Run the operator/);
    expect(help.out).toContain('3  invalid resource');
    expect((await run(['render', '--help'])).out).toContain('2  usage or input error');
  });

  it('shows the real options of run, loaded only when asked for', async () => {
    for (const argv of [
      ['run', '--help'],
      ['help', 'run'],
    ]) {
      const r = await run(argv);
      expect(r.code).toBe(0);
      expect(r.out).toContain('--grace-period <duration>');
    }
    const bad = await run(['run', '--workers', 'zero']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("option '--workers <n>' argument 'zero' is invalid");
  }, 30_000);

  it('exits 2 for usage errors, with a message and a pointer to --help', async () => {
    const none = await run([]);
    expect(none.code).toBe(2);
    const unknown = await run([...EXAMPLE, '--colour']);
    expect(unknown).toMatchObject({ code: 2, out: '' });
    expect(unknown.err).toBe("error: unknown option '--colour'\n(add --help for usage)\n");
    expect((await run(['render'])).err).toContain("required option '-f, --filename <path>' not specified");
  });

  it('exits 3 for an invalid resource, with nothing on stdout', async () => {
    const r = await run(
      ['render', '-f', '-'],
      'apiVersion: acraccess.io/v1alpha1\nkind: AcrAccess\nmetadata: {name: b}\nspec: {registry: {loginServer: nope}}',
    );
    expect(r).toMatchObject({ code: 3, out: '' });
    expect(r.err).toMatch(/^error: stdin: document 1 \(AcrAccess b\): spec\.registry\.loginServer: /);
  });

  it('exits 1 for a refused resource: stderr has the reason, stdout the others', async () => {
    const r = await run(
      ['render', '-f', '-', '--allowed-registries', '*.azurecr.cn'],
      readFileSync('examples/acraccess.yaml', 'utf8'),
    );
    expect(r).toMatchObject({ code: 1, out: '' });
    expect(NO_WARNING(r.err)).toBe(
      "error: stdin: document 1 (AcrAccess flux-system/contoso): Stalled RegistryNotAllowed: registry contoso.azurecr.io is not in the operator's allowed registries (*.azurecr.cn)\n",
    );
  });
});

describe('flag values', () => {
  it('checks namespace names, naming the flag', async () => {
    for (const flag of ['-n', '--watch-namespaces']) {
      const r = await run([...EXAMPLE, flag, 'ok,Bad_NS']);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`argument 'ok,Bad_NS' is invalid. "Bad_NS" is not a namespace name`);
    }
    expect((await run([...EXAMPLE, '-n', 'a'.repeat(64)])).code).toBe(2);
    expect((await run([...EXAMPLE, '-n', 'team-a', '-n', 'team-b,x1'])).code).toBe(0);
  });

  it('takes --service-tags as run spells it: embedded or file:<path>', async () => {
    expect((await run([...EXAMPLE, '--service-tags', 'embedded'])).code).toBe(0);
    const file = await run([...EXAMPLE, '--service-tags', 'file:data/servicetags/public.json', '-o', 'table']);
    expect(file.code).toBe(0);
    expect(file.out).toContain('(file data/servicetags/public.json)');
    const bare = await run([...EXAMPLE, '--service-tags', 'feed.json']);
    expect(bare.code).toBe(2);
    expect(bare.err).toContain('use file:feed.json for a weekly Service Tags file, or embedded');
    const cm = await run([...EXAMPLE, '--service-tags', 'configmap:ns/name']);
    expect(cm.code).toBe(2);
    expect(cm.err).toContain('render works offline');
    const unreadable = await run([...EXAMPLE, '--service-tags', 'file:/nonexistent.json']);
    expect(unreadable.code).toBe(2);
    expect(unreadable.err).toMatch(/^error: --service-tags file:\/nonexistent\.json: .*cannot be read/);
  });

  it('checks resolver addresses and ports, naming the flag', async () => {
    const port = await run([...EXAMPLE, '--dns-server', '127.0.0.1:99999']);
    expect(port).toEqual({
      code: 2,
      out: '',
      err: 'error: --dns-server: "127.0.0.1:99999": the port must be a number from 1 to 65535\n',
    });
    const name = await run([...EXAMPLE, '--dns', 'no-such-host.invalid:53']);
    expect(name.code).toBe(2);
    expect(name.err).toMatch(/^error: --dns: "no-such-host\.invalid:53": cannot look up no-such-host\.invalid \(/);
    expect((await run([...EXAMPLE, '--dns', 'off', '--dns-server', '10.0.0.10'])).err).toBe(
      'error: --dns off cannot be combined with --dns-server\n',
    );
    await expect(parseDnsServers(['10.0.0.10', '10.0.0.10:5353', 'fd00::1', '[fd00::1]:53'], '--dns')).resolves.toEqual(
      ['10.0.0.10', '10.0.0.10:5353', 'fd00::1', '[fd00::1]:53'],
    );
    await expect(parseDnsServers(['[fd00::1]:0'], '--dns')).rejects.toThrow(
      'the port must be a number from 1 to 65535',
    );
  });

  it('resolves a resolver given by host name (localhost) and uses it', async () => {
    const localhost = await lookup('localhost');
    const server = new TestDnsServer({
      'contoso.azurecr.io': { A: ['10.0.0.7'] },
      'contoso.eastus.data.azurecr.io': { A: ['10.0.0.8'] },
      'contoso.westeurope.data.azurecr.io': { A: ['10.0.0.9'] },
      'azurecr.io': { A: ['10.0.0.10'] },
    });
    const address = await server.start(); // listens on 127.0.0.1
    try {
      const port = address.split(':')[1]!;
      const expected = localhost.family === 6 ? `[${localhost.address}]:${port}` : `${localhost.address}:${port}`;
      expect(await parseDnsServers([`localhost:${port}`], '--dns-server')).toEqual([expected]);
      if (localhost.address !== '127.0.0.1') return; // the test server answers on 127.0.0.1 only
      const f = ['render', '-f', '-', '--dns', `localhost:${port}`, '-o', 'json'];
      const yaml = readFileSync('examples/acraccess.yaml', 'utf8').replace('[ServiceTags]', '[DNS]');
      const r = await run(f, yaml);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toContain('"10.0.0.7/32"');
    } finally {
      await server.stop();
    }
  });

  it('reads documents from stdin and skips other kinds, so kustomize build | render -f - works', async () => {
    const stream = `apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n---\n${readFileSync('examples/acraccess.yaml', 'utf8')}`;
    const r = await run(['render', '-f', '-', '-o', 'name'], stream);
    expect(r.code).toBe(0);
    expect(r.out).toBe('networkpolicy.networking.k8s.io/acr-access-contoso\n');
    expect(NO_WARNING(r.err)).toBe(
      'note: skipped 1 documents that are not AcrAccess or ClusterAcrAccess: Namespace ×1\n',
    );
  });
});
