import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { KubeObject } from '../../src/kube/types.js';
import { repoRoot } from '../../hack/tools/tools.js';
import { freePort } from '../controlplane/process.js';
import { acrAccess, waitReady } from '../support/acraccess.js';
import { auditEvents, clientFor, controlPlane, eventually, test } from '../support/cluster.js';
import { installOperatorPrerequisites, scrapeMetrics } from '../support/operator.js';
import { assembleImageTree, entrypointCommand, readDockerfile, type Dockerfile } from './image-tree.js';
import {
  TOOLS_TIMEOUT_MS,
  exec,
  helmTemplate,
  kubectl,
  kubectlOk,
  only,
  tempFile,
  tools,
  uniqueRelease,
} from './support.js';

// The image without a container engine: the Dockerfile's runtime file list assembled in a temporary folder and its
// ENTRYPOINT started with a plain node — for --help and render, and as the operator itself with the chart's
// arguments and environment, under the chart's ServiceAccount, against the real control plane.

let docker: Dockerfile;
let tree: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  await Promise.all([tools(), installOperatorPrerequisites(clientFor('admin'))]);
  docker = await readDockerfile();
  tree = await assembleImageTree(docker);
}, TOOLS_TIMEOUT_MS);
afterAll(() => tree?.remove());

const fromTree = (args: string[], env: Record<string, string> = {}, timeoutMs = 30_000) => {
  const [node, argv] = entrypointCommand(docker, args);
  return exec(node, argv, { cwd: tree.dir, env, timeoutMs });
};

describe('the container image', () => {
  test('Dockerfile: two stages, distroless Node 24 as 65532, an allow-list context', async () => {
    expect(docker.runtimeBase).toBe('gcr.io/distroless/nodejs24-debian12:nonroot');
    expect(docker.user).toBe('65532:65532');
    expect(docker.entrypoint).toEqual(['/nodejs/bin/node', 'bin/acr-access.js', 'run']);
    expect(docker.runtimeCopies.map((c) => c.from).sort()).toEqual(
      ['bin', 'data', 'dist', 'node_modules', 'package.json'].sort(),
    );
    const text = await readFile(path.join(repoRoot, 'Dockerfile'), 'utf8');
    for (const label of ['title', 'description', 'version', 'licenses', 'base.name'])
      expect(text).toContain(`org.opencontainers.image.${label}=`);
    // Every build-stage source exists and is let through by .dockerignore (which excludes everything else).
    const ignore = (await readFile(path.join(repoRoot, '.dockerignore'), 'utf8')).split('\n');
    expect(ignore.filter((l) => l && !l.startsWith('#'))[0]).toBe('*');
    for (const source of docker.buildSources) {
      expect(existsSync(path.join(repoRoot, source)), source).toBe(true);
      expect(ignore.includes(`!${source}`) || ignore.includes(`!${source}/`), source).toBe(true);
    }
  });

  test('the runtime tree has no dev dependencies and its entrypoint runs', { timeout: 60_000 }, async () => {
    for (const dev of ['typescript', 'vitest', 'tsx', 'eslint'])
      expect(existsSync(path.join(tree.dir, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(path.join(tree.dir, 'node_modules/@kubernetes/client-node'))).toBe(true);

    const help = await fromTree(['--help']);
    expect(help.code, help.stderr).toBe(0);
    // Every flag the chart can pass is one `run` knows.
    const all = await helmTemplate({
      operator: { allowedRegistries: ['*.azurecr.io'], watchNamespaces: ['a'], backends: ['NetworkPolicy'] },
      azure: { subscriptionId: '00000000-0000-0000-0000-000000000000' },
    });
    const off = await helmTemplate({ leaderElection: { enabled: false } });
    const flags = new Set(
      [...containerArgs(all.docs), ...containerArgs(off.docs)].map((a) => a.replace(/=.*/, '')).filter(Boolean),
    );
    expect(flags.size).toBeGreaterThan(14);
    for (const flag of flags) expect(help.stdout, flag).toContain(flag);

    // The image's other command: render, offline, from the same tree (`--entrypoint` swaps `run` for `render`).
    const [node, argv] = entrypointCommand(docker, []);
    const render = await exec(
      node,
      [
        ...argv.slice(0, -1),
        'render',
        '--service-tags',
        'embedded',
        '-f',
        path.join(repoRoot, 'examples/acraccess.yaml'),
      ],
      { cwd: tree.dir, timeoutMs: 30_000 },
    );
    expect(render.code, render.stderr).toBe(0);
    expect(render.stdout).toMatch(/^kind: NetworkPolicy$/m);
  });

  test(
    "the operator from the image tree, with the chart's args and env, under the chart's ServiceAccount",
    { timeout: 180_000 },
    async ({ namespace, admin }) => {
      const release = uniqueRelease();
      const values = { crds: { install: false }, operator: { watchNamespaces: [namespace], dns: 'off' } };
      const rendered = await helmTemplate(values, { release, namespace });
      await kubectlOk(['apply', '--server-side', '--field-manager=helm-test', '-f', '-'], { input: rendered.stdout });
      const sa = only(rendered.docs, 'ServiceAccount').metadata.name;
      const user = `system:serviceaccount:${namespace}:${sa}`;
      // A bound token from the TokenRequest API, as the kubelet would project into the pod.
      const token = (await kubectlOk(['create', 'token', sa, '-n', namespace, '--duration=1h'])).trim();
      const { file: kubeconfig, remove } = await tempFile('sa.kubeconfig', saKubeconfig(token));

      const container = containerOf(rendered.docs);
      const healthPort = await freePort();
      const env: Record<string, string> = {
        POD_NAMESPACE: namespace,
        POD_NAME: `${release}-0`,
        KUBECONFIG: kubeconfig,
      };
      for (const e of container.env) if (e.value !== undefined) env[e.name] = e.value;
      // The kubelet expands $(VAR) from the container's env; the health port is moved off 8081 for the test.
      const args = container.args
        .map((a) => a.replace(/\$\((\w+)\)/g, (_, v: string) => env[v] ?? ''))
        .map((a) => (a.startsWith('--health-address=') ? `--health-address=127.0.0.1:${healthPort}` : a));
      expect(env.NODE_OPTIONS).toBe('--max-old-space-size=128 --max-semi-space-size=16');

      const [node, argv] = entrypointCommand(docker, args);
      const child = spawn(node, argv, {
        cwd: tree.dir,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let logs = '';
      child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        await eventually(
          'the operator is Ready',
          async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok,
          60_000,
          250,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${logs.slice(-3000)}`);
        });
        const lease = await eventually(
          'the Lease is held',
          async () => {
            const l = await admin.get({
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              namespace,
              name: 'acr-access-operator',
            });
            return (l?.spec as { holderIdentity?: string } | undefined)?.holderIdentity ? l : undefined;
          },
          60_000,
        );
        expect(lease.metadata.namespace).toBe(namespace);
        await admin.apply(acrAccess(namespace, 'pulls'));
        await waitReady(admin, namespace, 'pulls', 'True', 60_000);
        const metrics = await scrapeMetrics(healthPort);
        expect(metrics.value('acraccess_resource_condition', { name: 'pulls', condition: 'Ready' })).toBe(1);

        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await remove();
        await kubectl([
          'delete',
          'clusterrole,clusterrolebinding',
          `${release}-acr-access-operator`,
          '--ignore-not-found',
        ]);
      }
      // The chart's RBAC was enough: the API server refused nothing this identity asked for.
      const refused = await auditEvents((e) => e.user.username === user && e.responseStatus?.code === 403);
      expect(refused.map((e) => `${e.verb} ${e.objectRef?.resource} ${e.objectRef?.namespace ?? ''}`)).toEqual([]);
      expect((await auditEvents((e) => e.user.username === user)).length).toBeGreaterThan(5);
    },
  );
});

type Container = { args: string[]; env: { name: string; value?: string }[] };
const containerOf = (docs: KubeObject[]) =>
  (only(docs, 'Deployment').spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0]!;
const containerArgs = (docs: KubeObject[]) => containerOf(docs).args;

function saKubeconfig(token: string): string {
  const { server, caCert } = controlPlane();
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority': caCert } }],
    users: [{ name: 'sa', user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'sa' } }],
    'current-context': 'test',
  });
}
