import http from 'node:http';
import type { TestProject } from 'vitest/node';
import { ControlPlane, type ControlPlaneInfo } from './controlplane.js';
import { upstreamDir as findUpstreamDir } from '../fixtures/upstream.js';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { PROJECT_CRDS, applyFiles } from '../support/install.js';

export interface ProvidedControlPlane extends ControlPlaneInfo {
  /** POST /apiserver/restart, /apiserver/stop, /apiserver/start: the harness owns the processes, tests ask it. */
  controlUrl: string;
  /** shared/upstream of the project (upstream CRDs and data), or '' when not beside the repository. */
  upstreamDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlane: ProvidedControlPlane;
  }
}

/** One real control plane for the whole integration run; torn down after it, processes and temp folder included. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const upstreamDir = findUpstreamDir() ?? '';
  if (!upstreamDir && process.env.CI === 'true') {
    throw new Error(
      'CI=true but shared/upstream (upstream CRDs) was not found beside the repository; set ACR_ACCESS_UPSTREAM_DIR',
    );
  }
  const plane = new ControlPlane((line) => console.log(line));
  const started = Date.now();
  let info: ControlPlaneInfo;
  try {
    info = await plane.start();
  } catch (err) {
    console.error(await plane.logTails(60).catch(() => ''));
    await plane.stop(true).catch(() => undefined);
    throw err;
  }
  const v = info.versions;
  console.log(
    `control plane: kube-apiserver ${v.kubeApiserver}, etcd v${v.etcd}, kube-controller-manager ${v.kubeControllerManager}` +
      ` (ready in ${((Date.now() - started) / 1000).toFixed(1)}s; logs in ${info.workDir})`,
  );

  const control = http.createServer((req, res) => {
    const actions: Record<string, () => Promise<void>> = {
      '/apiserver/restart': () => plane.restartApiServer(),
      '/apiserver/stop': () => plane.stopApiServer(),
      '/apiserver/start': () => plane.startApiServer(),
    };
    const action = req.method === 'POST' ? actions[req.url ?? ''] : undefined;
    if (!action) {
      res.writeHead(404).end();
      return;
    }
    action().then(
      () => res.writeHead(204).end(),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const address = control.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  // The project's own CRDs go in first: the garbage collector only notices new kinds on its 30 s discovery resync.
  await applyFiles(
    new KubeClient(loadKubeConfig({ kubeconfig: info.kubeconfigs.admin }), { fieldManager: 'test-setup' }),
    PROJECT_CRDS,
  );
  project.provide('controlPlane', { ...info, controlUrl: `http://127.0.0.1:${port}`, upstreamDir });

  return async () => {
    control.close();
    await plane.stop(process.env.KEEP_CONTROL_PLANE === '1');
  };
}
