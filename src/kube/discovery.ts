import { isNotFound } from './errors.js';

export interface ResourceInfo {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** `/api/v1` or `/apis/<group>/<version>`. */
  groupVersionPath: string;
}

interface ApiResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * Answers "is this kind served, and under which resource name?" from the API server's discovery documents, cached
 * per group/version. A miss re-reads the document (a CRD may just have been installed); a group/version that is not
 * served is remembered for a short while so a missing optional CRD (Cilium, Calico) costs one request, not one per
 * reconcile.
 */
export class Discovery {
  private readonly cache = new Map<string, { resources: ApiResourceList['resources']; at: number }>();

  constructor(
    private readonly get: (path: string) => Promise<unknown>,
    private readonly negativeTtlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  async resource(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    const groupVersionPath = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const cached = this.cache.get(apiVersion);
    let found = cached?.resources.find((r) => r.kind === kind && !r.name.includes('/'));
    const fresh = cached && this.now() - cached.at < this.negativeTtlMs;
    if (!found && !fresh) {
      const resources = await this.fetch(groupVersionPath);
      this.cache.set(apiVersion, { resources, at: this.now() });
      found = resources.find((r) => r.kind === kind && !r.name.includes('/'));
    }
    if (!found) return undefined;
    return { apiVersion, kind, plural: found.name, namespaced: found.namespaced, groupVersionPath };
  }

  async isServed(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.resource(apiVersion, kind)) !== undefined;
  }

  /** Forget everything, e.g. after CRDs were installed or removed. */
  invalidate(): void {
    this.cache.clear();
  }

  private async fetch(path: string): Promise<ApiResourceList['resources']> {
    try {
      return ((await this.get(path)) as ApiResourceList).resources;
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }
}
