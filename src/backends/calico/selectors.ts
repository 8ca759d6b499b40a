import type { LabelSelector } from '../../api/types.js';

/**
 * metav1.LabelSelector → Calico selector expression
 * (https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#selectors).
 *
 * Calico's tokenizer (libcalico-go/lib/selector/tokenizer) takes a label as a run of `[A-Za-z0-9_./-]` and a
 * string as everything between two single (or two double) quotes, with no escapes. So a key is checked, not quoted,
 * and a value is put in the quote it does not contain; one that contains both cannot be expressed and is refused.
 * The CRD already limits keys and values to Kubernetes label syntax; this is the second line, for render input
 * and for anything else that builds an intent.
 */

const CALICO_LABEL = /^[A-Za-z0-9_./-]{1,512}$/;

export class SelectorConversionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorConversionError';
  }
}

function key(k: string): string {
  if (!CALICO_LABEL.test(k)) throw new SelectorConversionError(`label key ${JSON.stringify(k)} is not a Calico label`);
  return k;
}

/** A string literal: single quotes unless the value holds one, then double quotes. */
export function quote(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new SelectorConversionError(
    `label value ${JSON.stringify(value)} holds both quote characters; Calico selectors cannot express it`,
  );
}

function set(values: readonly string[] | undefined, k: string, op: string): string {
  if (!values || values.length === 0)
    throw new SelectorConversionError(`${op} on ${JSON.stringify(k)} needs at least one value`);
  // Sorted and deduplicated: the same set written in any order gives the same expression (byte-determinism).
  return `{${[...new Set(values)].sort().map(quote).join(', ')}}`;
}

/**
 * The selector's requirements as Calico terms, ANDed by the caller: matchLabels first (sorted by key, so map order
 * does not matter), then matchExpressions in their given order. An empty selector has no terms.
 */
export function selectorTerms(selector: LabelSelector): string[] {
  const terms = Object.entries(selector.matchLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${key(k)} == ${quote(v)}`);
  for (const req of selector.matchExpressions ?? []) {
    const k = key(req.key);
    switch (req.operator) {
      case 'In':
        terms.push(`${k} in ${set(req.values, req.key, 'In')}`);
        break;
      case 'NotIn':
        // Like Kubernetes, Calico's `not in` also matches objects without the label.
        terms.push(`${k} not in ${set(req.values, req.key, 'NotIn')}`);
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (req.values && req.values.length > 0)
          throw new SelectorConversionError(`${req.operator} on ${JSON.stringify(req.key)} takes no values`);
        terms.push(req.operator === 'Exists' ? `has(${k})` : `!has(${k})`);
        break;
      default:
        throw new SelectorConversionError(`unknown operator ${JSON.stringify(req.operator)}`);
    }
  }
  return terms;
}

/** The whole selector as one expression; the empty selector matches everything, as in Kubernetes: `all()`. */
export function toCalicoSelector(selector: LabelSelector): string {
  const terms = selectorTerms(selector);
  return terms.length === 0 ? 'all()' : terms.join(' && ');
}
