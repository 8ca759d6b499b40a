import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ControlPlaneBinaries {
  kubeApiserver: string;
  etcd: string;
  kubeControllerManager: string;
}

const NAMES = { kubeApiserver: 'kube-apiserver', etcd: 'etcd', kubeControllerManager: 'kube-controller-manager' };
const ENV = {
  kubeApiserver: 'TEST_ASSET_KUBE_APISERVER',
  etcd: 'TEST_ASSET_ETCD',
  kubeControllerManager: 'TEST_ASSET_KUBE_CONTROLLER_MANAGER',
};

async function executable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/**
 * Finds the control-plane binaries the envtest way: TEST_ASSET_<NAME> per binary, then the folder in
 * KUBEBUILDER_ASSETS. Whatever is still missing comes from hack/k8sbins/build.sh, which builds all three from the
 * pinned Go modules into the user's cache once per version (later runs only look them up).
 */
export async function findBinaries(log: (line: string) => void): Promise<ControlPlaneBinaries> {
  const assets = process.env.KUBEBUILDER_ASSETS;
  const found: Partial<ControlPlaneBinaries> = {};
  for (const key of Object.keys(NAMES) as (keyof ControlPlaneBinaries)[]) {
    const candidates = [process.env[ENV[key]], assets ? path.join(assets, NAMES[key]) : undefined];
    for (const file of candidates) if (file && !found[key] && (await executable(file))) found[key] = file;
  }
  const missing = (Object.keys(NAMES) as (keyof ControlPlaneBinaries)[]).filter((k) => !found[k]);
  if (missing.length > 0) {
    log(`control plane: ${missing.map((k) => NAMES[k]).join(', ')} not in KUBEBUILDER_ASSETS; using hack/k8sbins`);
    const started = Date.now();
    const { stdout } = await run('bash', [path.join(repoRoot, 'hack/k8sbins/build.sh')], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 80 * 60_000,
    }).catch((err: Error & { stderr?: string }) => {
      throw new Error(`building the test control plane failed: ${err.message}\n${err.stderr ?? ''}`);
    });
    const dir = stdout.trim().split('\n').pop() ?? '';
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    log(`control plane: binaries in the build cache (${seconds}s to find or build)`);
    for (const key of missing) found[key] = path.join(dir, NAMES[key]);
  }
  return found as ControlPlaneBinaries;
}
