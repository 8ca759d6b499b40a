/**
 * Answers "does the API server's schema for this kind have this field?" from its OpenAPI v3 documents
 * (`/openapi/v3`, GA since Kubernetes 1.27), which include every CRD's structural schema. Discovery only says a kind
 * is served; it cannot tell a Cilium 1.15 CiliumNetworkPolicy (no `spec.enableDefaultDeny`) from a 1.16 one, and
 * the API server silently prunes a field its schema lacks — so a policy written to be additive would isolate.
 *
 * The root document lists each group/version with a content hash in its URL; an answer is cached under that URL, so
 * a re-check costs one small request until a CRD changes.
 */
export class OpenApiFields {
  private readonly answers = new Map<string, boolean | undefined>();

  /** `get` performs an authenticated GET of an API server path (with query) and returns the parsed JSON. */
  constructor(private readonly get: (pathAndQuery: string) => Promise<unknown>) {}

  /** true or false when the schema was read; undefined when the API server publishes none for it. */
  async hasField(apiVersion: string, kind: string, path: readonly string[]): Promise<boolean | undefined> {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const key = group ? `apis/${group}/${version}` : `api/${version}`;
    const root = (await this.get('/openapi/v3').catch(() => undefined)) as
      { paths?: Record<string, { serverRelativeURL?: string }> } | undefined;
    const url = root?.paths?.[key]?.serverRelativeURL;
    if (!url) return undefined;
    const cacheKey = `${url} ${kind} ${path.join('.')}`;
    if (this.answers.has(cacheKey)) return this.answers.get(cacheKey);
    const doc = (await this.get(url).catch(() => undefined)) as OpenApiDocument | undefined;
    if (!doc) return undefined; // not cached: asked again next time
    const answer = fieldIn(doc, { group: group ?? '', version: version ?? '', kind }, path);
    this.answers.set(cacheKey, answer);
    return answer;
  }
}

export interface Schema {
  $ref?: string;
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
}
export interface OpenApiDocument {
  components?: { schemas?: Record<string, Schema> };
}

/** Walks `path` down the kind's schema, following `$ref` and `allOf` as the API server writes them. */
export function fieldIn(
  doc: OpenApiDocument,
  gvk: { group: string; version: string; kind: string },
  path: readonly string[],
): boolean | undefined {
  const schemas = doc.components?.schemas ?? {};
  let schema: Schema | undefined = Object.values(schemas).find((s) =>
    s['x-kubernetes-group-version-kind']?.some(
      (g) => g.group === gvk.group && g.version === gvk.version && g.kind === gvk.kind,
    ),
  );
  if (!schema) return undefined;
  for (const name of path) {
    const next: Schema | undefined = propertiesOf(schema, schemas)[name];
    if (!next) return false;
    schema = next;
  }
  return true;
}

function propertiesOf(schema: Schema, schemas: Record<string, Schema>, depth = 0): Record<string, Schema> {
  if (depth > 8) return {};
  const own = { ...(schema.properties ?? {}) };
  const linked = [...(schema.allOf ?? []), ...(schema.$ref ? [{ $ref: schema.$ref }] : [])];
  for (const part of linked) {
    const target = part.$ref ? schemas[part.$ref.replace('#/components/schemas/', '')] : part;
    if (target && target !== schema) Object.assign(own, propertiesOf(target, schemas, depth + 1));
  }
  return own;
}
