/** The formats `render -o` prints. All are deterministic: the same input gives the same bytes. */
import { dump } from 'js-yaml';
import type { BackendChoice } from '../backends/registry.js';
import type { Resolved } from '../intent/pipeline.js';
import type { Verdict, VerdictReason } from '../intent/verdict.js';
import type { KubeObject } from '../kube/types.js';
import type { OutputFormat } from './flags.js';

/** One input resource and what became of it. */
export interface RenderedResource {
  /** `Kind namespace/name`. */
  id: string;
  verdict: Verdict;
  /** The backends chosen (set once the verdict did not refuse). */
  choice?: BackendChoice;
  /** The Stalled reason the operator reports, from the verdict or the backend choice. */
  refusal?: VerdictReason;
  /** Resolution failed: the reason the operator would report. */
  failure?: VerdictReason;
  resolved?: Resolved;
  /** What the operator writes for it (none when refused, failed, in Audit mode or selecting no namespace). */
  objects: KubeObject[];
}

const LIST_HEAD = '{\n  "apiVersion": "v1",\n  "kind": "List",\n  "items": [';

/**
 * Writes each resource's output as soon as it is rendered, so memory stays that of one resource however many there
 * are. The bytes equal formatting everything at once: JSON is `JSON.stringify(list, null, 2)`, YAML documents are
 * separated by `---`.
 */
export class OutputWriter {
  private objects = 0;
  private resources = 0;

  constructor(
    private readonly format: OutputFormat,
    private readonly write: (chunk: string) => void,
  ) {}

  add(r: RenderedResource): void {
    if (this.format === 'table') this.write(`${this.resources > 0 ? '\n' : ''}${explain(r)}`);
    this.resources++;
    for (const o of r.objects) {
      const first = this.objects++ === 0;
      switch (this.format) {
        case 'json':
          this.write(`${first ? `${LIST_HEAD}\n` : ',\n'}${JSON.stringify(o, null, 2).replace(/^/gm, '    ')}`);
          break;
        case 'name':
          // As `kubectl get -o name`: <resource>.<group>/<name>.
          this.write(`${resourceName(o)}/${o.metadata.name}\n`);
          break;
        case 'yaml':
          this.write(`${first ? '' : '---\n'}${dump(o, { lineWidth: -1, noRefs: true })}`);
          break;
      }
    }
  }

  end(): void {
    if (this.format === 'json') this.write(this.objects === 0 ? `${LIST_HEAD}]\n}\n` : '\n  ]\n}\n');
  }
}

function resourceName(o: KubeObject): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0]! : '';
  return `${o.kind.toLowerCase()}${group ? `.${group}` : ''}`;
}

/**
 * Per resource: what is written, the hosts, the DNS answers, and which tags and hosts each prefix came from (the
 * pipeline's `origins`), so a reviewer can tell why a prefix is allowed.
 */
function explain(r: RenderedResource): string {
  const lines: string[] = [];
  const v = r.verdict;
  if (v.refusal) lines.push(`${r.id}: refused (Stalled ${v.refusal.reason}): ${v.refusal.message}`);
  else if (r.failure) lines.push(`${r.id}: not resolved (${r.failure.reason}): ${r.failure.message}`);
  else {
    const n = r.objects.length;
    lines.push(`${r.id}: ${v.write ? `${n} object${n === 1 ? '' : 's'} written` : 'nothing written'}`);
  }
  for (const n of v.notes) lines.push(`  note     ${n.reason}: ${n.message}`);
  for (const o of r.objects) lines.push(`  object   ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  const resolved = r.resolved;
  if (!resolved) return lines.join('\n') + '\n';
  const a = resolved.addresses;
  lines.push(`  feed     ${a.feed.cloud} changeNumber ${a.feed.changeNumber} (${a.feed.source})`);
  lines.push(`  hosts    ${resolved.intents[0]?.hosts.join(' ') ?? ''}`);
  for (const d of a.dns) lines.push(`  dns      ${d.host} → ${d.addresses.join(' ') || '(no address)'}`);
  const prefixes = [...a.ipv4, ...a.ipv6];
  const width = Math.max('PREFIX'.length, ...prefixes.map((p) => p.length));
  lines.push(`  ${'PREFIX'.padEnd(width)}  FROM`);
  for (const p of prefixes) lines.push(`  ${p.padEnd(width)}  ${(a.origins[p] ?? []).join(', ')}`);
  return lines.join('\n') + '\n';
}
