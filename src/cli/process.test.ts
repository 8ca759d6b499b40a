// The published binary as a child process: bin/acr-access.js loading the built dist/ (`npm run build`).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const BIN = 'bin/acr-access.js';
const TIMEOUT = 60_000; // two shared cores: a process start can take seconds under load

/** Exit code, stdout and stderr of a process that may fail. */
async function spawn(cmd: string, args: string[]) {
  try {
    const { stdout, stderr } = await exec(cmd, args, { timeout: TIMEOUT - 5_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The child must run what the sources say: a dist/ older than src/cli would test yesterday's code. */
function distIsCurrent(): string | undefined {
  const built = 'dist/cli/main.js';
  if (!existsSync(built)) return 'dist/ is missing: run npm run build';
  const stale = readdirSync('src/cli')
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .filter((f) => statSync(path.join('src/cli', f)).mtimeMs > statSync(built).mtimeMs);
  return stale.length ? `dist/ is older than src/cli/${stale[0]}: run npm run build` : undefined;
}

const oldNode = '/usr/bin/node';
const oldNodeVersion = existsSync(oldNode) ? readVersion(oldNode) : undefined;
function readVersion(node: string): string | undefined {
  try {
    return execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

describe('bin/acr-access.js', () => {
  // A faked version shows the check's logic on any machine; a real old Node (this machine's /usr/bin/node, when it
  // is one) also shows the file parses there. The title says which of the two ran.
  const oldMajor = oldNodeVersion ? Number(oldNodeVersion.split('.')[0]) : undefined;
  const realOld = oldMajor !== undefined && oldMajor < 22;
  it(
    `says which Node.js it needs instead of a stack trace (${realOld ? `${oldNode} v${oldNodeVersion} and a faked v20.11.1` : `a faked v20.11.1 only: no Node < 22 at ${oldNode}`})`,
    async () => {
      const fake = `data:text/javascript,Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '20.11.1' } });`;
      // Had dist/ been imported first, --version would print the version and exit 0.
      expect(await spawn(process.execPath, ['--import', fake, BIN, '--version'])).toEqual({
        code: 1,
        stdout: '',
        stderr: 'acr-access needs Node.js >= 22 (found v20.11.1)\n',
      });
      if (!realOld) return;
      expect(await spawn(oldNode, [BIN, '--version'])).toEqual({
        code: 1,
        stdout: '',
        stderr: `acr-access needs Node.js >= 22 (found v${oldNodeVersion})\n`,
      });
    },
    TIMEOUT,
  );

  it(
    'renders the README example without loading the Kubernetes client, and exits with the documented codes',
    async () => {
      const stale = distIsCurrent();
      if (stale) throw new Error(stale);
      // Records every module the CLI loads, then runs it as the binary does.
      const probe = [
        "import { registerHooks } from 'node:module';",
        'const loaded = [];',
        'registerHooks({ resolve(s, c, next) { const r = next(s, c); loaded.push(r.url); return r; } });',
        "const { main } = await import('./dist/cli/main.js');",
        'const code = await main(process.argv.slice(1), { out() {}, err() {} });',
        'console.log(JSON.stringify({ code, heavy: loaded.filter((u) => /client-node|pino|prom-client|undici/.test(u)) }));',
      ].join('\n');
      const modules = async (...argv: string[]) => {
        const r = await spawn(process.execPath, ['--input-type=module', '-e', probe, '--', ...argv]);
        return JSON.parse(r.stdout) as { code: number; heavy: string[] };
      };
      expect(await modules('--help')).toEqual({ code: 0, heavy: [] });
      expect(await modules('render', '-f', 'examples/acraccess.yaml')).toEqual({ code: 0, heavy: [] });
      // The probe does see them when they load: `run` needs the client.
      expect((await modules('run', '--help')).heavy.some((u) => u.includes('@kubernetes/client-node'))).toBe(true);
      const version = await spawn(process.execPath, [BIN, '--version']);
      const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
      expect(version).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
      // The exit code reaches the shell: a refused resource is 1, a bad flag 2.
      const refused = await spawn(process.execPath, [
        BIN,
        'render',
        '-f',
        'examples/acraccess.yaml',
        '--allowed-registries',
        'fabrikam.azurecr.io',
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('Stalled RegistryNotAllowed');
      expect((await spawn(process.execPath, [BIN, 'render', '-f', 'examples', '-n', 'Bad_NS'])).code).toBe(2);
    },
    TIMEOUT,
  );
});
