// The container image's file tree without a container engine: the runtime stage's COPY --from=build lines of the
// Dockerfile, filled the way the build stage fills them, in a temporary folder standing for WORKDIR /app.
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../hack/tools/tools.js';
import { execOk } from './support.js';

export interface Dockerfile {
  /** Build-stage COPY sources (from the context). */
  buildSources: string[];
  /** Runtime-stage COPY --from=build sources, relative to the build stage's /app. */
  runtimeCopies: { from: string; to: string }[];
  workdir: string;
  entrypoint: string[];
  user: string;
  runtimeBase: string;
}

export async function readDockerfile(): Promise<Dockerfile> {
  const lines = (await readFile(path.join(repoRoot, 'Dockerfile'), 'utf8')).split('\n').filter((l) => !/^\s*#/.test(l));
  const stages = lines
    .join('\n')
    .split(/^FROM /m)
    .slice(1);
  if (stages.length !== 2) throw new Error(`expected a build and a runtime stage, found ${stages.length}`);
  const [build, runtime] = stages as [string, string];
  const copies = (stage: string) =>
    [...stage.matchAll(/^COPY (--from=\S+ )?(.+)$/gm)].map((m) => m[2]!.trim().split(/\s+/));
  const workdir = /^WORKDIR (\S+)/m.exec(runtime)?.[1] ?? '/';
  return {
    buildSources: copies(build).flatMap((parts) => parts.slice(0, -1)),
    runtimeCopies: copies(runtime).map((parts) => ({
      from: path.posix.relative('/app', parts[0]!),
      to: path.posix.normalize(path.posix.join(workdir, parts[1]!)),
    })),
    workdir,
    entrypoint: JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(runtime)?.[1] ?? '[]') as string[],
    user: /^USER (\S+)/m.exec(runtime)?.[1] ?? '',
    runtimeBase: runtime.split('\n')[0]!.trim(),
  };
}

/**
 * Assembles the runtime tree: node_modules as `npm prune --omit=dev` leaves it (npm ci --omit=dev, from the local
 * npm cache where it can), dist/ as `npm run build` leaves it (the repository's dist/, which `npm ci` builds through
 * `prepare`), everything else copied from the repository. Returns the folder standing for WORKDIR.
 */
export async function assembleImageTree(docker: Dockerfile): Promise<{ dir: string; remove: () => Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'acr-image-'));
  const dir = path.join(root, docker.workdir);
  for (const { from, to } of docker.runtimeCopies) {
    const target = path.join(root, to);
    if (from === 'node_modules') {
      await cp(path.join(repoRoot, 'package.json'), path.join(dir, 'package.json'));
      await cp(path.join(repoRoot, 'package-lock.json'), path.join(dir, 'package-lock.json'));
      // From the npm cache `npm ci` filled; the registry only for what the cache lacks (a lock file just changed).
      await execOk('npm', ['ci', '--omit=dev', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
        cwd: dir,
        timeoutMs: 180_000,
      });
      // The runtime stage copies package.json but not the lock file.
      await rm(path.join(dir, 'package-lock.json'));
    } else {
      await cp(path.join(repoRoot, from), target, { recursive: true });
    }
  }
  return { dir, remove: () => rm(root, { recursive: true, force: true }) };
}

/** The ENTRYPOINT with a plain node in place of the image's: the command the kubelet starts, plus `args`. */
export function entrypointCommand(docker: Dockerfile, args: string[]): [string, string[]] {
  const [node, ...rest] = docker.entrypoint;
  if (node !== '/nodejs/bin/node') throw new Error(`ENTRYPOINT should start with distroless's /nodejs/bin/node`);
  return [process.execPath, [...rest, ...args]];
}
