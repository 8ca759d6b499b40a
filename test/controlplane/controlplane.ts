import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findBinaries, type ControlPlaneBinaries } from './binaries.js';
import { createPki, kubeconfigYaml, type Pki } from './pki.js';
import { ManagedProcess, freePort, waitFor } from './process.js';

const run = promisify(execFile);
const START_TIMEOUT_MS = Number(process.env.CONTROL_PLANE_START_TIMEOUT_MS ?? 180_000);

/** Audit every request at Metadata level, so tests can count who wrote what. */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
`;

export interface ControlPlaneInfo {
  workDir: string;
  server: string;
  caCert: string;
  auditLog: string;
  /** kubeconfig file per identity: admin, operator, tenant. */
  kubeconfigs: Record<'admin' | 'operator' | 'tenant', string>;
  versions: { kubeApiserver: string; etcd: string; kubeControllerManager: string };
  logs: Record<string, string>;
}

/**
 * etcd + kube-apiserver + kube-controller-manager (namespace and garbage-collector controllers) on loopback, in a
 * temporary folder, with RBAC and static-token identities. kube-apiserver can be restarted on the same port against
 * the same etcd, which is how tests prove that watches recover.
 */
export class ControlPlane {
  private etcd!: ManagedProcess;
  private apiserver!: ManagedProcess;
  private controllerManager!: ManagedProcess;
  private pki!: Pki;
  info!: ControlPlaneInfo;

  constructor(private readonly log: (line: string) => void = (l) => console.log(l)) {}

  async start(): Promise<ControlPlaneInfo> {
    const bins = await findBinaries(this.log);
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'acr-access-cp-'));
    this.pki = await createPki(path.join(workDir, 'pki'));
    const [etcdPort, etcdPeerPort, apiPort, kcmPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const server = `https://127.0.0.1:${apiPort}`;
    const auditLog = path.join(workDir, 'audit.log');
    await writeFile(path.join(workDir, 'audit-policy.yaml'), AUDIT_POLICY);

    const kubeconfigs = {} as ControlPlaneInfo['kubeconfigs'];
    for (const who of ['admin', 'operator', 'tenant'] as const) {
      kubeconfigs[who] = path.join(workDir, `${who}.kubeconfig`);
      await writeFile(kubeconfigs[who], kubeconfigYaml(server, this.pki.caCert, this.pki.identities[who]));
    }
    const kcmKubeconfig = path.join(workDir, 'kube-controller-manager.kubeconfig');
    await writeFile(kcmKubeconfig, kubeconfigYaml(server, this.pki.caCert, this.pki.identities.controllerManager));

    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    this.etcd = new ManagedProcess(
      'etcd',
      bins.etcd,
      [
        `--data-dir=${path.join(workDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync=true',
        '--logger=zap',
        '--log-level=warn',
      ],
      path.join(workDir, 'etcd.log'),
    );
    this.apiserver = new ManagedProcess(
      'kube-apiserver',
      bins.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${this.pki.dir}`,
        `--tls-cert-file=${this.pki.serverCert}`,
        `--tls-private-key-file=${this.pki.serverKey}`,
        `--client-ca-file=${this.pki.caCert}`,
        `--token-auth-file=${this.pki.tokenFile}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${this.pki.serviceAccountKey}`,
        `--service-account-signing-key-file=${this.pki.serviceAccountKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--disable-admission-plugins=ServiceAccount',
        '--endpoint-reconciler-type=none',
        `--audit-policy-file=${path.join(workDir, 'audit-policy.yaml')}`,
        `--audit-log-path=${auditLog}`,
        '--audit-log-format=json',
        '--audit-log-mode=blocking',
      ],
      path.join(workDir, 'kube-apiserver.log'),
    );
    this.controllerManager = new ManagedProcess(
      'kube-controller-manager',
      bins.kubeControllerManager,
      [
        `--kubeconfig=${kcmKubeconfig}`,
        `--authentication-kubeconfig=${kcmKubeconfig}`,
        `--authorization-kubeconfig=${kcmKubeconfig}`,
        '--controllers=namespace,garbagecollector',
        '--leader-elect=false',
        '--use-service-account-credentials=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
      ],
      path.join(workDir, 'kube-controller-manager.log'),
    );

    this.info = {
      workDir,
      server,
      caCert: this.pki.caCert,
      auditLog,
      kubeconfigs,
      versions: { kubeApiserver: '', etcd: '', kubeControllerManager: '' },
      logs: {
        etcd: this.etcd.logFile,
        'kube-apiserver': this.apiserver.logFile,
        'kube-controller-manager': this.controllerManager.logFile,
      },
    };

    this.etcd.start();
    await this.waitUntil('etcd', async () => (await fetch(`${etcdUrl}/health`)).ok, this.etcd);
    this.info.versions.etcd = ((await (await fetch(`${etcdUrl}/version`)).json()) as { etcdserver: string }).etcdserver;
    await this.startApiServer();
    this.info.versions.kubeApiserver = ((await this.getJson('/version')) as { gitVersion: string }).gitVersion;
    this.controllerManager.start();
    this.info.versions.kubeControllerManager = await binaryVersion(bins, 'kubeControllerManager');
    return this.info;
  }

  /** Stops kube-apiserver and starts it again on the same port against the same etcd. */
  async restartApiServer(downMs = 0): Promise<void> {
    await this.apiserver.stop();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.startApiServer();
  }

  async stopApiServer(): Promise<void> {
    await this.apiserver.stop();
  }

  async startApiServer(): Promise<void> {
    this.apiserver.start();
    await this.waitUntil(
      'kube-apiserver /readyz',
      async () => (await this.getStatus('/readyz')) === 200,
      this.apiserver,
    );
  }

  async stop(keepWorkDir = false): Promise<void> {
    await this.controllerManager?.stop();
    await this.apiserver?.stop();
    await this.etcd?.stop();
    if (!keepWorkDir && this.info) await rm(this.info.workDir, { recursive: true, force: true });
  }

  async logTails(lines = 30): Promise<string> {
    const parts = await Promise.all(
      [this.etcd, this.apiserver, this.controllerManager].map(
        async (p) => `--- ${p.name} (${p.logFile})\n${await p.tail(lines)}`,
      ),
    );
    return parts.join('\n');
  }

  private async waitUntil(what: string, probe: () => Promise<boolean>, proc: ManagedProcess): Promise<void> {
    try {
      await waitFor(
        what,
        async () => {
          if (!proc.running) throw new Error(`${proc.name} exited`);
          return probe();
        },
        START_TIMEOUT_MS,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await proc.tail(60)}`, { cause: err });
    }
  }

  private getStatus(urlPath: string): Promise<number> {
    return this.httpsGet(urlPath).then((r) => r.status);
  }

  private async getJson(urlPath: string): Promise<unknown> {
    const r = await this.httpsGet(urlPath);
    return JSON.parse(r.body);
  }

  private async httpsGet(urlPath: string): Promise<{ status: number; body: string }> {
    const ca = await readFile(this.pki.caCert);
    return new Promise((resolve, reject) => {
      const req = https.get(
        `${this.info.server}${urlPath}`,
        { ca, headers: { Authorization: `Bearer ${this.pki.identities.admin.token}` }, timeout: 5000 },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
    });
  }
}

async function binaryVersion(bins: ControlPlaneBinaries, key: keyof ControlPlaneBinaries): Promise<string> {
  const { stdout } = await run(bins[key], ['--version']);
  return stdout.trim().split(/\s+/).pop() ?? 'unknown';
}
