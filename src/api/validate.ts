import { CEL_EQUIVALENTS } from './cel-twins.js';
import { acrAccessSpecSchema, clusterAcrAccessSpecSchema } from './schema.js';
import type { Rule, Schema } from './schema-helpers.js';
import { API_VERSION, KIND_ACR_ACCESS, KIND_CLUSTER_ACR_ACCESS, type AnyAcrAccess } from './types.js';

export { CEL_EQUIVALENTS };

export interface FieldError {
  path: string;
  message: string;
}

type Json = Record<string, unknown>;
const re = (p: string) => new RegExp(p);

/** Every CEL rule string in a schema, for the completeness test. */
export function celRules(schema: Schema): string[] {
  const out: string[] = [];
  const walk = (s: unknown): void => {
    if (Array.isArray(s)) return s.forEach(walk);
    if (typeof s !== 'object' || s === null) return;
    for (const [k, v] of Object.entries(s)) {
      if (k === 'x-kubernetes-validations') out.push(...(v as Rule[]).map((r) => r.rule));
      else walk(v);
    }
  };
  walk(schema);
  return out;
}

/** Fills schema defaults into `value` (in place), as the API server does before validating. */
export function applyDefaults(schema: Schema, value: unknown): void {
  if (schema.type === 'object' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [key, sub] of Object.entries(props)) {
      const v = value as Json;
      if (v[key] === undefined && sub.default !== undefined) v[key] = structuredClone(sub.default);
      if (v[key] !== undefined) applyDefaults(sub, v[key]);
    }
  } else if (schema.type === 'array' && Array.isArray(value)) {
    for (const item of value) applyDefaults(schema.items as Schema, item);
  }
}

/** Structural checks (types, enums, lengths, required, unknown fields, set duplicates) plus the CEL rules. */
export function validateAgainst(schema: Schema, value: unknown, path: string, errors: FieldError[]): void {
  const err = (p: string, message: string): void => {
    errors.push({ path: p, message });
  };
  const type = schema.type as string | undefined;
  if (type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return err(path, 'must be an object');
    const v = value as Json;
    for (const key of (schema.required as string[] | undefined) ?? []) {
      if (v[key] === undefined) err(`${path}.${key}`, 'Required value');
    }
    if (typeof schema.maxProperties === 'number' && Object.keys(v).length > schema.maxProperties) {
      err(path, `Too many: ${Object.keys(v).length}: must have at most ${schema.maxProperties} items`);
    }
    const props = schema.properties as Record<string, Schema> | undefined;
    const additional = schema.additionalProperties as Schema | undefined;
    for (const [key, sub] of Object.entries(v)) {
      if (sub === undefined) continue;
      const child = props?.[key] ?? additional;
      if (!child) err(`${path}.${key}`, 'unknown field');
      else validateAgainst(child, sub, `${path}.${key}`, errors);
    }
  } else if (type === 'array') {
    if (!Array.isArray(value)) return err(path, 'must be a list');
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) {
      err(path, `Too many: ${value.length}: must have at most ${schema.maxItems} items`);
    }
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) {
      err(path, `should have at least ${schema.minItems} items`);
    }
    if (schema['x-kubernetes-list-type'] === 'set') {
      const seen = new Set<string>();
      value.forEach((item, i) => {
        const k = JSON.stringify(item);
        if (seen.has(k)) err(`${path}[${i}]`, `Duplicate value: ${k}`);
        seen.add(k);
      });
    }
    value.forEach((item, i) => validateAgainst(schema.items as Schema, item, `${path}[${i}]`, errors));
  } else if (type === 'string') {
    if (typeof value !== 'string') return err(path, 'must be a string');
    const allowed = schema.enum as string[] | undefined;
    if (allowed && !allowed.includes(value)) {
      return err(path, `Unsupported value: "${value}": supported values: ${allowed.map((a) => `"${a}"`).join(', ')}`);
    }
    // The API server counts code points (and words its message in bytes); so does this twin.
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength) {
      return err(path, `Too long: may not be more than ${schema.maxLength} bytes`);
    }
    if (typeof schema.pattern === 'string' && !re(schema.pattern).test(value)) {
      return err(path, `must match ${schema.pattern}`);
    }
  } else if (type === 'boolean') {
    if (typeof value !== 'boolean') return err(path, 'must be true or false');
  } else if (type === 'integer') {
    if (!Number.isInteger(value)) return err(path, 'must be a whole number');
    const n = value as number;
    if (typeof schema.minimum === 'number' && n < schema.minimum)
      return err(path, `must be at least ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && n > schema.maximum) return err(path, `must be at most ${schema.maximum}`);
  }
  for (const rule of (schema['x-kubernetes-validations'] as Rule[] | undefined) ?? []) {
    const check = CEL_EQUIVALENTS[rule.rule];
    if (!check) throw new Error(`no JavaScript equivalent for CEL rule ${rule.rule}`);
    if (!check(value)) err(rule.fieldPath ? `${path}${rule.fieldPath}` : path, rule.message);
  }
}

export class InvalidResourceError extends Error {
  constructor(
    readonly what: string,
    readonly errors: FieldError[],
  ) {
    super(`${what}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    this.name = 'InvalidResourceError';
  }
}

/**
 * Checks one parsed document and returns it with defaults applied, or throws InvalidResourceError listing every
 * problem with its field path. A namespaced AcrAccess without a namespace gets `defaultNamespace`, like kubectl.
 */
export function parseAcrAccess(doc: unknown, defaultNamespace = 'default'): AnyAcrAccess {
  const errors: FieldError[] = [];
  if (typeof doc !== 'object' || doc === null)
    throw new InvalidResourceError('document', [{ path: '', message: 'not an object' }]);
  const d = structuredClone(doc) as Json;
  const kind = d.kind;
  const metadata = (d.metadata ?? {}) as Json;
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  const what = `${typeof kind === 'string' ? kind : 'document'} ${name || '(unnamed)'}`;
  if (d.apiVersion !== API_VERSION) errors.push({ path: 'apiVersion', message: `must be ${API_VERSION}` });
  if (kind !== KIND_ACR_ACCESS && kind !== KIND_CLUSTER_ACR_ACCESS) {
    errors.push({ path: 'kind', message: `must be ${KIND_ACR_ACCESS} or ${KIND_CLUSTER_ACR_ACCESS}` });
    throw new InvalidResourceError(what, errors);
  }
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
    errors.push({ path: 'metadata.name', message: 'must be a lowercase DNS subdomain name' });
  }
  if (kind === KIND_ACR_ACCESS) metadata.namespace ??= defaultNamespace;
  else if (metadata.namespace !== undefined) {
    errors.push({ path: 'metadata.namespace', message: 'ClusterAcrAccess is cluster-scoped and has no namespace' });
  }
  d.metadata = metadata;
  const schema = kind === KIND_ACR_ACCESS ? acrAccessSpecSchema : clusterAcrAccessSpecSchema;
  if (d.spec === undefined) errors.push({ path: 'spec', message: 'Required value' });
  else {
    applyDefaults(schema, d.spec);
    validateAgainst(schema, d.spec, 'spec', errors);
  }
  if (errors.length) throw new InvalidResourceError(what, errors);
  return d as unknown as AnyAcrAccess;
}
