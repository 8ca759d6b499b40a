import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestTls {
  ca: string;
  cert: string;
  key: string;
}

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd, timeout: 30_000 }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`openssl ${args[0]} failed (openssl is required for the fake ARM): ${err.stderr ?? err}`);
  });
}

/**
 * A throwaway CA and a serving certificate for 127.0.0.1 and localhost, made at test start as the control plane's
 * are (test/controlplane/pki.ts), with P-256 keys because they are quick to make.
 */
export async function createTestTls(dir: string): Promise<TestTls> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    dir,
    'req',
    '-x509',
    ...ec,
    '-days',
    '2',
    '-subj',
    '/CN=fake-arm-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  await openssl(dir, 'req', ...ec, '-subj', '/CN=fake-arm', '-keyout', 'server.key', '-out', 'server.csr');
  await writeFile(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  );
  await openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'server.ext',
    '-out',
    'server.crt',
  );
  const read = (f: string) => readFile(path.join(dir, f), 'utf8');
  return { ca: await read('ca.crt'), cert: await read('server.crt'), key: await read('server.key') };
}

/**
 * Makes this process trust `ca`, as NODE_EXTRA_CA_CERTS would at start-up (which cannot be set later). The SDKs'
 * HTTP client (core-rest-pipeline) and @azure/identity create plain https.Agents, so they verify the fake ARM with
 * the default store and run exactly as in production: no stubbed client, no disabled verification.
 */
export function trustInThisProcess(ca: string): void {
  const current = tls.getCACertificates('default');
  if (!current.includes(ca)) tls.setDefaultCACertificates([...current, ca]);
}
