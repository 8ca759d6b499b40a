/**
 * Reads the documents `render -f` is given: files, directories (recursively), `-` for standard input, with a cap on
 * bytes and documents so a huge input fails fast with a clear message instead of exhausting memory.
 */
import { open, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { loadAll } from 'js-yaml';
import { API_VERSION, GROUP, KIND_ACR_ACCESS, KIND_CLUSTER_ACR_ACCESS, type AnyAcrAccess } from '../api/types.js';
import { InvalidResourceError, parseAcrAccess } from '../api/validate.js';
import { CliError, EXIT, usageError } from './errors.js';

/** All inputs together; the operator's own objects are a few KiB each. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;
/** Documents (and List items) over all inputs. */
export const MAX_DOCUMENTS = 10_000;
/** Aliases per YAML document: manifests rarely use any, and many nested ones blow up every walk of the tree. */
const MAX_ALIASES = 100;
const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export interface InputDocument {
  resource: AnyAcrAccess;
  /** `file: document 2 (AcrAccess ns/name)`, for messages. */
  where: string;
}

export interface ReadInput {
  documents: InputDocument[];
  /** Lines for stderr, e.g. the kinds that were skipped. */
  notes: string[];
}

export interface InputOptions {
  stdin?: Readable;
  maxBytes?: number;
  maxDocuments?: number;
}

/**
 * Reads every input and validates every AcrAccess/ClusterAcrAccess in it. Throws CliError: EXIT.usage for input
 * that cannot be read or is too large, EXIT.invalid (listing every problem) for a document that is not valid.
 */
export async function readInputs(names: readonly string[], opts: InputOptions = {}): Promise<ReadInput> {
  const maxBytes = opts.maxBytes ?? MAX_INPUT_BYTES;
  const maxDocuments = opts.maxDocuments ?? MAX_DOCUMENTS;
  let bytes = 0;
  let count = 0;
  const documents: InputDocument[] = [];
  const problems: string[] = [];
  const skipped = new Map<string, number>();

  const take = async (label: string, read: (budget: number) => Promise<string>) => {
    const text = await read(maxBytes - bytes);
    bytes += Buffer.byteLength(text);
    const consider = (doc: unknown, where: string) => {
      if (++count > maxDocuments)
        throw usageError(`more than ${maxDocuments} documents in the input; split it into several runs`);
      classify(doc, where, documents, problems, skipped);
    };
    let index = 0;
    try {
      loadAll(
        text,
        (doc) => {
          index++;
          if (doc === null || doc === undefined) return;
          const where = `${label}: document ${index}`;
          const d = doc as { kind?: unknown; apiVersion?: unknown; items?: unknown };
          // `kubectl get -o yaml` and `kustomize build` can give a v1 List: its items are the documents.
          if (d.kind === 'List' && d.apiVersion === 'v1' && Array.isArray(d.items)) {
            d.items.forEach((item, j) => consider(item, `${where} item ${j + 1}`));
          } else consider(doc, where);
        },
        { maxAliases: MAX_ALIASES },
      );
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(EXIT.invalid, `${label}: not valid YAML: ${(err as Error).message}`);
    }
  };

  for (const name of names) {
    if (name === '-') {
      if (!opts.stdin) throw usageError('-f -: no standard input');
      const stdin = opts.stdin;
      await take('stdin', (budget) => readCapped(stdin, budget, 'standard input', maxBytes));
      continue;
    }
    for (const file of await expand(name)) {
      await take(file, (budget) => readFileCapped(file, budget, maxBytes));
    }
  }
  if (problems.length) throw new CliError(EXIT.invalid, problems.join('\n'));
  const notes: string[] = [];
  if (skipped.size > 0) {
    const total = [...skipped.values()].reduce((a, b) => a + b, 0);
    const kinds = [...skipped].map(([k, n]) => `${k} ×${n}`).join(', ');
    notes.push(`note: skipped ${total} documents that are not AcrAccess or ClusterAcrAccess: ${kinds}`);
  }
  if (documents.length === 0)
    throw usageError(`no AcrAccess or ClusterAcrAccess documents in ${names.map(displayName).join(', ')}`);
  return { documents, notes };
}

/** Ours are validated (so a misspelt kind in our group is an error); documents of other kinds are counted. */
function classify(
  doc: unknown,
  where: string,
  documents: InputDocument[],
  problems: string[],
  skipped: Map<string, number>,
): void {
  const d = (typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? doc : {}) as {
    apiVersion?: unknown;
    kind?: unknown;
  };
  const ours =
    d.kind === KIND_ACR_ACCESS ||
    d.kind === KIND_CLUSTER_ACR_ACCESS ||
    (typeof d.apiVersion === 'string' && d.apiVersion.split('/')[0] === GROUP);
  if (!ours && typeof d.kind === 'string' && typeof d.apiVersion === 'string') {
    skipped.set(d.kind, (skipped.get(d.kind) ?? 0) + 1);
    return;
  }
  const label = describeDoc(doc);
  const at = `${where}${label ? ` (${label})` : ''}`;
  if (!ours) {
    problems.push(`${at}: not a Kubernetes object (no apiVersion and kind); expected ${API_VERSION} AcrAccess`);
    return;
  }
  try {
    documents.push({ resource: parseAcrAccess(doc), where: at });
  } catch (err) {
    if (!(err instanceof InvalidResourceError)) throw err;
    for (const e of err.errors) problems.push(`${at}: ${e.path ? `${e.path}: ` : ''}${e.message}`);
  }
}

function describeDoc(doc: unknown): string {
  if (typeof doc !== 'object' || doc === null) return '';
  const d = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const name = [d.metadata?.namespace, d.metadata?.name].filter((x) => typeof x === 'string').join('/');
  return [typeof d.kind === 'string' ? d.kind : '', name].filter(Boolean).join(' ');
}

const displayName = (name: string) => (name === '-' ? 'standard input' : name);

/** A file as itself; a directory as its .yaml/.yml/.json files, recursively, in sorted order (stable output). */
async function expand(name: string): Promise<string[]> {
  const info = await stat(name).catch((err: NodeJS.ErrnoException) => {
    throw usageError(`${name}: cannot be read (${err.code === 'ENOENT' ? 'no such file or directory' : err.message})`);
  });
  if (!info.isDirectory()) return [name];
  const files: string[] = [];
  const seen = new Set<string>();
  const walk = async (dir: string) => {
    // A symbolic link back up the tree would otherwise recurse for ever.
    const real = await realpath(dir);
    if (seen.has(real)) return;
    seen.add(real);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const isDir =
        entry.isDirectory() || (entry.isSymbolicLink() && (await stat(full).catch(() => undefined))?.isDirectory());
      if (isDir) await walk(full);
      else if (EXTENSIONS.has(path.extname(entry.name).toLowerCase())) files.push(full);
    }
  };
  await walk(name);
  if (files.length === 0) throw usageError(`${name}: a directory with no .yaml, .yml or .json files`);
  return files.sort();
}

function tooLarge(what: string, maxBytes: number): CliError {
  return usageError(
    `${what}: the input is larger than ${maxBytes / 1024 / 1024} MiB in all; render fewer documents at a time`,
  );
}

/** Checks the size before reading a regular file; anything else (a pipe, a device) is read as a stream. */
async function readFileCapped(file: string, budget: number, maxBytes: number): Promise<string> {
  const handle = await open(file, 'r').catch((err: Error) => {
    throw usageError(`${file}: cannot be read (${err.message})`);
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) return await readCapped(handle.createReadStream({ autoClose: false }), budget, file, maxBytes);
    if (info.size > budget) throw tooLarge(file, maxBytes);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Reads a stream to the end, failing as soon as it exceeds `budget` bytes (then the stream is left unread). */
export async function readCapped(stream: Readable, budget: number, what: string, maxBytes = budget): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > budget) {
      stream.destroy();
      throw tooLarge(what, maxBytes);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
