import { mkdir, mkdtemp, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { CliError, EXIT } from './errors.js';
import { MAX_DOCUMENTS, MAX_INPUT_BYTES, readCapped, readInputs } from './input.js';

let dir: string;
const write = async (rel: string, text: string) => {
  const p = path.join(dir, rel);
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, text);
  return p;
};
const acr = (name: string) =>
  `apiVersion: acraccess.io/v1alpha1\nkind: AcrAccess\nmetadata: {name: ${name}, namespace: a}\nspec: {registry: {loginServer: contoso.azurecr.io, regions: [eastus]}}\n`;
const failure = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof CliError)) throw new Error(`expected a CliError, got ${String(e)}`);
  return { code: e.exitCode, message: e.message };
};
const names = (r: Awaited<ReturnType<typeof readInputs>>) => r.documents.map((d) => d.resource.metadata.name);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'input-test-'));
});

describe('readInputs', () => {
  it('reads a directory recursively, .yaml/.yml/.json only, in sorted order, through symlink loops', async () => {
    const root = path.join(dir, 'tree');
    await write('tree/b.yaml', acr('b'));
    await write('tree/a/z.yml', acr('az'));
    await write(
      'tree/c.json',
      JSON.stringify({
        ...{ apiVersion: 'acraccess.io/v1alpha1', kind: 'AcrAccess' },
        metadata: { name: 'c', namespace: 'a' },
        spec: { registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus'] } },
      }),
    );
    await write('tree/notes.txt', 'not yaml: [');
    await symlink(root, path.join(root, 'a', 'loop'));
    const r = await readInputs([root]);
    expect(names(r)).toEqual(['az', 'b', 'c']);
    expect(r.documents[0]!.where).toBe(`${path.join(root, 'a', 'z.yml')}: document 1 (AcrAccess a/az)`);
  });

  it('takes the items of a v1 List and skips other kinds with one note, as kustomize build output needs', async () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
        {
          apiVersion: 'acraccess.io/v1alpha1',
          kind: 'AcrAccess',
          metadata: { name: 'in-list', namespace: 'a' },
          spec: { registry: { loginServer: 'contoso.azurecr.io', regions: ['eastus'] } },
        },
      ],
    };
    const stream = [
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n',
      acr('plain'),
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n',
      JSON.stringify(list),
    ].join('---\n');
    const r = await readInputs(['-'], { stdin: Readable.from([stream]) });
    expect(names(r)).toEqual(['plain', 'in-list']);
    expect(r.documents[1]!.where).toBe('stdin: document 5 item 2 (AcrAccess a/in-list)');
    expect(r.notes).toEqual([
      'note: skipped 4 documents that are not AcrAccess or ClusterAcrAccess: ConfigMap ×2, Deployment ×1, Namespace ×1',
    ]);
  });

  it('treats a misspelt kind in our API group and a document without kind as invalid, not as something to skip', async () => {
    const f = await write(
      'typo.yaml',
      'apiVersion: acraccess.io/v1alpha1\nkind: AcrAcess\nmetadata: {name: t}\n---\njust: a map\n',
    );
    const e = await failure(readInputs([f]));
    expect(e.code).toBe(EXIT.invalid);
    expect(e.message.split('\n')).toEqual([
      `${f}: document 1 (AcrAcess t): kind: must be AcrAccess or ClusterAcrAccess`,
      `${f}: document 2: not a Kubernetes object (no apiVersion and kind); expected acraccess.io/v1alpha1 AcrAccess`,
    ]);
  });

  it('says so when there is nothing to render (exit 2)', async () => {
    const f = await write('other.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
    expect(await failure(readInputs([f]))).toEqual({
      code: EXIT.usage,
      message: `no AcrAccess or ClusterAcrAccess documents in ${f}`,
    });
    await mkdir(path.join(dir, 'empty'));
    expect((await failure(readInputs([path.join(dir, 'empty')]))).message).toBe(
      `${path.join(dir, 'empty')}: a directory with no .yaml, .yml or .json files`,
    );
  });
});

describe('input limits', () => {
  it('refuses a file larger than the cap from its size, before reading it (exit 2)', async () => {
    const big = path.join(dir, 'big.yaml');
    await writeFile(big, '');
    await truncate(big, MAX_INPUT_BYTES + 1); // sparse: its size is all that is checked
    expect(await failure(readInputs([big]))).toEqual({
      code: EXIT.usage,
      message: `${big}: the input is larger than 16 MiB in all; render fewer documents at a time`,
    });
  });

  it('counts the cap over all inputs together', async () => {
    const half = await write('half.yaml', `${acr('h')}#${'x'.repeat(600)}\n`);
    const e = await failure(readInputs([half, half], { maxBytes: 1000 }));
    expect(e.message).toMatch(/half\.yaml: the input is larger than/);
  });

  it('stops reading standard input at the cap, however much more there is', async () => {
    // An endless stream: only a cap that stops reading lets this test end.
    async function* endless() {
      const chunk = Buffer.alloc(1 << 20, 0x61);
      for (;;) yield chunk;
    }
    const stream = Readable.from(endless());
    expect(await failure(readInputs(['-'], { stdin: stream }))).toEqual({
      code: EXIT.usage,
      message: 'standard input: the input is larger than 16 MiB in all; render fewer documents at a time',
    });
    expect(stream.destroyed).toBe(true);
    await expect(readCapped(Readable.from(['abc', 'def']), 6, 'x')).resolves.toBe('abcdef');
  });

  it(`refuses more than ${MAX_DOCUMENTS} documents (exit 2)`, async () => {
    const f = await write('many.yaml', 'a: 1\n---\n'.repeat(MAX_DOCUMENTS + 1));
    expect(await failure(readInputs([f]))).toEqual({
      code: EXIT.usage,
      message: `more than ${MAX_DOCUMENTS} documents in the input; split it into several runs`,
    });
  });

  it('refuses a document built from many aliases', async () => {
    const anchors = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 120; i++) anchors.push(`k${i}: *a`);
    const f = await write('aliases.yaml', anchors.join('\n') + '\n');
    expect((await failure(readInputs([f]))).code).toBe(EXIT.invalid);
  });
});
