import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestIdentity {
  name: string;
  groups: string[];
  token: string;
}

export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  serviceAccountKey: string;
  tokenFile: string;
  identities: Record<'admin' | 'operator' | 'tenant' | 'controllerManager', TestIdentity>;
}

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`openssl ${args[0]} failed (openssl is required for the test control plane): ${err.stderr ?? err}`);
  });
}

/**
 * A throwaway CA, a serving certificate for 127.0.0.1/localhost, a service-account signing key, and static bearer
 * tokens for the test identities: an admin (system:masters), the operator (RBAC from the chart's ClusterRole, so
 * tests exercise the permissions it ships with) and a restricted tenant with no rights until a test grants them.
 */
export async function createPki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  await openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '30',
    '-subj',
    '/CN=acr-access-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  await openssl(
    dir,
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=kube-apiserver',
    '-keyout',
    'apiserver.key',
    '-out',
    'apiserver.csr',
  );
  await writeFile(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n',
  );
  await openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'apiserver.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    'server.ext',
    '-out',
    'apiserver.crt',
  );
  await openssl(dir, 'genrsa', '-out', 'sa.key', '2048');

  const identity = (name: string, groups: string[]): TestIdentity => ({
    name,
    groups,
    token: randomBytes(24).toString('hex'),
  });
  const identities = {
    admin: identity('admin', ['system:masters']),
    operator: identity('acr-access-operator', []),
    tenant: identity('tenant', []),
    controllerManager: identity('kube-controller-manager', ['system:masters']),
  };
  const tokenFile = path.join(dir, 'tokens.csv');
  await writeFile(
    tokenFile,
    Object.values(identities)
      .map((i) => `${i.token},${i.name},${i.name}-uid,"${i.groups.join(',')}"`)
      .join('\n') + '\n',
    { mode: 0o600 },
  );
  return {
    dir,
    caCert: path.join(dir, 'ca.crt'),
    serverCert: path.join(dir, 'apiserver.crt'),
    serverKey: path.join(dir, 'apiserver.key'),
    serviceAccountKey: path.join(dir, 'sa.key'),
    tokenFile,
    identities,
  };
}

export function kubeconfigYaml(server: string, caCert: string, id: TestIdentity): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: test`,
    `  cluster: {server: "${server}", certificate-authority: "${caCert}"}`,
    'users:',
    `- name: ${id.name}`,
    `  user: {token: "${id.token}"}`,
    'contexts:',
    `- name: test`,
    `  context: {cluster: test, user: ${id.name}}`,
    'current-context: test',
    '',
  ].join('\n');
}
