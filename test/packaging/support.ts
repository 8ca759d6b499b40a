// Shared helpers of the packaging tests: the real tools (helm, kubectl, kstatus, argolua) run as child processes.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import type { KubeObject } from '../../src/kube/types.js';
import { packagingTools, repoRoot, type PackagingTools } from '../../hack/tools/tools.js';
import { controlPlane } from '../support/cluster.js';

export const CHART = path.join(repoRoot, 'deploy/helm/acr-access-operator');
/** A cold machine builds the tools from Go modules first (minutes); CI builds them in an earlier step. */
export const TOOLS_TIMEOUT_MS = 40 * 60_000;
export const tools = (): Promise<PackagingTools> => packagingTools();

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (never throws for a non-zero exit), killing it after `timeoutMs`. */
export function exec(
  file: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** Like exec, but a non-zero exit is an error carrying stderr. */
export async function execOk(file: string, args: string[], opts: Parameters<typeof exec>[2] = {}): Promise<string> {
  const r = await exec(file, args, opts);
  if (r.code !== 0) throw new Error(`${path.basename(file)} ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

/** A file with this content in a new temporary folder; `remove` deletes the folder. */
export async function tempFile(name: string, content: string): Promise<{ file: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'acr-pkg-'));
  await writeFile(path.join(dir, name), content);
  return { file: path.join(dir, name), remove: () => rm(dir, { recursive: true, force: true }) };
}

export const uniqueRelease = (prefix = 'pkg') => `${prefix}-${randomBytes(3).toString('hex')}`;

/** `helm template` of the chart with these values (exit code and output kept, for the schema's refusals). */
export async function helmTemplate(
  values: Record<string, unknown>,
  opts: { release?: string; namespace?: string; extra?: string[] } = {},
): Promise<Result & { docs: KubeObject[] }> {
  const { helm } = await tools();
  // Values on stdin (`-f -`), as JSON, which is YAML.
  const r = await exec(
    helm,
    [
      'template',
      opts.release ?? 'acr-access-operator',
      CHART,
      '--namespace',
      opts.namespace ?? 'acr-access-system',
      '-f',
      '-',
      ...(opts.extra ?? []),
    ],
    { input: JSON.stringify(values) },
  );
  const docs = r.code === 0 ? (loadAll(r.stdout) as (KubeObject | null)[]).filter((d): d is KubeObject => !!d) : [];
  return { ...r, docs };
}

export const find = (docs: KubeObject[], kind: string, name?: string) =>
  docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));

export const only = (docs: KubeObject[], kind: string, name?: string): KubeObject => {
  const found = find(docs, kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
};

/** kubectl as one of the control plane's identities, or with a kubeconfig file. */
export async function kubectl(
  args: string[],
  opts: { as?: 'admin' | 'operator' | 'tenant'; kubeconfig?: string; input?: string; timeoutMs?: number } = {},
): Promise<Result> {
  const { kubectl: bin } = await tools();
  const kubeconfig = opts.kubeconfig ?? controlPlane().kubeconfigs[opts.as ?? 'admin'];
  return exec(bin, [`--kubeconfig=${kubeconfig}`, ...args], {
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

export async function kubectlOk(args: string[], opts: Parameters<typeof kubectl>[1] = {}): Promise<string> {
  const r = await kubectl(args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

export interface Verdict {
  kind: string;
  namespace?: string;
  name: string;
  status: string;
  message: string;
}

/** The object as `kubectl get -o json` prints it, judged by kstatus (cli-utils) and by the Argo CD Lua check. */
export async function verdicts(
  resource: string,
  namespace?: string,
): Promise<{ kstatus: Verdict; argo: Verdict; object: KubeObject }> {
  const { kstatus, argolua } = await tools();
  const json = await kubectlOk(['get', resource, '-o', 'json', ...(namespace ? ['-n', namespace] : [])]);
  const object = JSON.parse(json) as KubeObject;
  // One script serves both kinds, as argocd-cm is told in the README.
  const lua = path.join(repoRoot, 'deploy/argocd/health.lua');
  const [k, a] = await Promise.all([
    execOk(kstatus, [], { input: json, timeoutMs: 20_000 }),
    execOk(argolua, [lua], { input: json, timeoutMs: 20_000 }),
  ]);
  return { kstatus: JSON.parse(k) as Verdict, argo: JSON.parse(a) as Verdict, object };
}
