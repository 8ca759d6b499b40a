// Finds the real tools the packaging checks run — helm, kstatus, argolua (hack/tools) and kubectl (hack/k8sbins) —
// or builds them once from the pinned Go modules into the user's cache. Nothing is downloaded as a binary.
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface PackagingTools {
  helm: string;
  kstatus: string;
  argolua: string;
  kubectl: string;
}

const executable = (file: string) =>
  access(file, constants.X_OK).then(
    () => true,
    () => false,
  );

/** Runs a build script that prints the folder of its binaries on its last line (a cold build takes minutes). */
async function buildDir(script: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('bash', [path.join(repoRoot, script)], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30 * 60_000,
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`${script} failed: ${err.message}\n${err.stderr ?? ''}`);
  });
  return stdout.trim().split('\n').pop() ?? '';
}

/**
 * kubectl: TEST_ASSET_KUBECTL, then KUBEBUILDER_ASSETS/kubectl (the envtest conventions), else built from the
 * control plane's wrapper module (only kubectl, into the same per-version cache folder).
 */
async function findKubectl(): Promise<string> {
  const assets = process.env.KUBEBUILDER_ASSETS;
  for (const file of [process.env.TEST_ASSET_KUBECTL, assets && path.join(assets, 'kubectl')])
    if (file && (await executable(file))) return file;
  return path.join(await buildDir('hack/k8sbins/build.sh', { K8SBINS: 'kubectl' }), 'kubectl');
}

/** helm, kstatus and argolua: the folder in ACR_ACCESS_TOOLS when it has all three, else hack/tools/build.sh. */
async function findHackTools(): Promise<Omit<PackagingTools, 'kubectl'>> {
  const names = ['helm', 'kstatus', 'argolua'] as const;
  let dir = process.env.ACR_ACCESS_TOOLS;
  const complete = async (d: string) =>
    (await Promise.all(names.map((n) => executable(path.join(d, n))))).every(Boolean);
  if (!dir || !(await complete(dir))) dir = await buildDir('hack/tools/build.sh');
  return { helm: path.join(dir, 'helm'), kstatus: path.join(dir, 'kstatus'), argolua: path.join(dir, 'argolua') };
}

let found: Promise<PackagingTools> | undefined;

/** All four, looked up (or built) once per process. */
export function packagingTools(): Promise<PackagingTools> {
  found ??= Promise.all([findHackTools(), findKubectl()]).then(([tools, kubectl]) => ({ ...tools, kubectl }));
  return found;
}
