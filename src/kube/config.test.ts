import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RequestContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import { describe, expect, it } from 'vitest';
import { loadKubeConfig } from './config.js';

const kubeconfig = {
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
  users: [{ name: 'u', user: { token: 'secret-token' } }],
  contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
  'current-context': 'x',
};

describe('loadKubeConfig', () => {
  it('loads a kubeconfig and authenticates requests with it', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kc-')), 'config');
    writeFileSync(file, JSON.stringify(kubeconfig));
    const kc = loadKubeConfig({ kubeconfig: file });
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    const ctx = new RequestContext('https://127.0.0.1:6443/api', 'GET');
    await kc.applySecurityAuthentication(ctx);
    expect(ctx.getHeaders().Authorization).toBe('Bearer secret-token');
  });

  it("loads none of client-node's generated models or API classes", () => {
    // A fresh process, so what vitest itself loaded does not count: record every module URL resolved.
    const script = `
      import { registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.push(r.url); return r; } });
      await import('./src/kube/config.ts');
      await import('./src/kube/client.ts');
      await import('./src/kube/reflector.ts');
      console.log(JSON.stringify(seen.filter((u) => u.includes('@kubernetes/client-node'))));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    const urls = JSON.parse(r.stdout) as string[];
    expect(urls.some((u) => u.endsWith('/dist/config.js'))).toBe(true);
    expect(urls.filter((u) => /\/gen\/(models|apis|types)\//.test(u) || u.endsWith('/gen/index.js'))).toEqual([]);
  });
});
