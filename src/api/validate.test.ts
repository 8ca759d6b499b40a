import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { INVALID_CASES, VALID_SPECS } from '../../test/fixtures/admission-cases.js';
import { renderCrdFiles } from './crd-files.js';
import { acrAccessSpecSchema, clusterAcrAccessSpecSchema, statusSchema } from './schema.js';
import type { Schema } from './schema-helpers.js';
import { CEL_EQUIVALENTS, InvalidResourceError, celRules, parseAcrAccess } from './validate.js';

const doc = (kind: string, spec: Record<string, unknown>) => ({
  apiVersion: 'acraccess.io/v1alpha1',
  kind,
  metadata: { name: 'case' },
  spec,
});

describe('offline validation (the twin of the CRD schema)', () => {
  it.each(VALID_SPECS)('accepts $kind: $name', ({ kind, spec }) => {
    expect(() => parseAcrAccess(doc(kind, spec))).not.toThrow();
  });

  it.each(INVALID_CASES)('rejects $kind: $name', ({ kind, spec, path, message }) => {
    let caught: unknown;
    try {
      parseAcrAccess(doc(kind, spec));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidResourceError);
    const errors = (caught as InvalidResourceError).errors;
    expect(errors.some((e) => e.path === path && e.message.includes(message))).toBe(true);
  });

  it('applies the schema defaults', () => {
    const r = parseAcrAccess(
      doc('AcrAccess', { registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus'] } }),
    );
    expect(r.metadata.namespace).toBe('default');
    expect(r.spec).toEqual({
      registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus'], dataEndpoints: 'Auto' },
      addressSources: ['ServiceTags', 'DNS'],
      ipFamilies: ['IPv4', 'IPv6'],
      includeMicrosoftContainerRegistry: false,
      backends: ['Auto'],
      mode: 'Enforce',
    });
  });

  it('names unknown fields, so a typo is not silently dropped', () => {
    expect(() =>
      parseAcrAccess(
        doc('AcrAccess', { registy: {}, registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus'] } }),
      ),
    ).toThrow('spec.registy: unknown field');
  });

  it('refuses a namespace on the cluster-scoped kind and other kinds altogether', () => {
    expect(() =>
      parseAcrAccess({ ...doc('ClusterAcrAccess', VALID_SPECS[0]!.spec), metadata: { name: 'x', namespace: 'a' } }),
    ).toThrow('metadata.namespace');
    expect(() => parseAcrAccess({ ...doc('Deployment', {}) })).toThrow('kind: must be AcrAccess or ClusterAcrAccess');
  });

  it('has a JavaScript twin for every CEL rule of both CRDs', () => {
    const rules = [...celRules(acrAccessSpecSchema), ...celRules(clusterAcrAccessSpecSchema)];
    expect(rules.length).toBeGreaterThan(8);
    for (const rule of rules) expect(CEL_EQUIVALENTS, rule).toHaveProperty([rule]);
  });

  it('has no twin left over from a rule the schema no longer has', () => {
    const rules = new Set([...celRules(acrAccessSpecSchema), ...celRules(clusterAcrAccessSpecSchema)]);
    expect(Object.keys(CEL_EQUIVALENTS).filter((twin) => !rules.has(twin))).toEqual([]);
  });
});

describe('CRD files', () => {
  it('are up to date with src/api/schema.ts', () => {
    for (const [file, text] of Object.entries(renderCrdFiles())) expect(readFileSync(file, 'utf8'), file).toBe(text);
  });

  it('describe every field, so kubectl explain reads well', () => {
    const missing: string[] = [];
    const walk = (s: Schema, path: string): void => {
      if (!s.description) missing.push(path);
      for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) walk(v, `${path}.${k}`);
      if (s.items && (s.items as Schema).type === 'object') walk(s.items as Schema, `${path}[]`);
    };
    walk(acrAccessSpecSchema, 'spec');
    walk(clusterAcrAccessSpecSchema, 'spec');
    walk(statusSchema, 'status');
    expect(missing).toEqual([]);
  });
});
