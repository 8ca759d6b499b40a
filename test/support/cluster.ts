import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inject, test as base } from 'vitest';
import { loadAll } from 'js-yaml';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import type { KubeObject } from '../../src/kube/types.js';

export const controlPlane = () => inject('controlPlane');

export function clientFor(who: 'admin' | 'operator' | 'tenant', fieldManager = `test-${who}`): KubeClient {
  return new KubeClient(loadKubeConfig({ kubeconfig: controlPlane().kubeconfigs[who] }), { fieldManager });
}

export async function createNamespace(client: KubeClient, prefix = 'test'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

/** Every test gets a namespace of its own, deleted (for real, by the namespace controller) afterwards. */
export const test = base.extend<{ namespace: string; admin: KubeClient }>({
  // eslint-disable-next-line no-empty-pattern
  admin: async ({}, use) => {
    await use(clientFor('admin'));
  },
  namespace: async ({ admin }, use) => {
    const name = await createNamespace(admin);
    await use(name);
    await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name });
  },
});

async function control(action: string): Promise<void> {
  const res = await fetch(`${controlPlane().controlUrl}/apiserver/${action}`, { method: 'POST' });
  if (!res.ok) throw new Error(`control plane ${action} failed: ${res.status} ${await res.text()}`);
}

export const apiserver = {
  restart: () => control('restart'),
  stop: () => control('stop'),
  start: () => control('start'),
};

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms: ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`,
  );
}

/** Applies CRD files and waits until each is Established and served. */
export async function installCrds(client: KubeClient, files: string[]): Promise<string[]> {
  const names: string[] = [];
  for (const file of files) {
    for (const doc of loadAll(await readFile(file, 'utf8'))) {
      const crd = doc as KubeObject;
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      await client.apply(crd);
      names.push(crd.metadata.name);
    }
  }
  for (const name of names) {
    await eventually(`CRD ${name} Established`, async () => {
      const crd = await client.get({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name });
      const conditions = (crd?.status as { conditions?: { type: string; status: string }[] })?.conditions ?? [];
      return conditions.some((c) => c.type === 'Established' && c.status === 'True');
    });
  }
  client.discovery.invalidate();
  return names;
}

export interface AuditEvent {
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  userAgent?: string;
}

/** Audit events of the control plane so far, oldest first. */
export async function auditEvents(filter: (e: AuditEvent) => boolean = () => true): Promise<AuditEvent[]> {
  const text = await readFile(controlPlane().auditLog, 'utf8');
  const events: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const event = JSON.parse(line) as AuditEvent;
    if (filter(event)) events.push(event);
  }
  return events;
}

export const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
