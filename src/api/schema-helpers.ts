import { MESSAGES, PATTERNS, RULES } from './rules.js';

/** Small builders for OpenAPI v3 structural schemas, so every field states its description next to its type. */
export type Schema = Record<string, unknown>;

export interface Rule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';
}

export const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
export const bool = (description: string, extra: Schema = {}): Schema => ({ type: 'boolean', description, ...extra });
export const int = (description: string, extra: Schema = {}): Schema => ({
  type: 'integer',
  format: 'int64',
  description,
  ...extra,
});
export const enumOf = (description: string, values: readonly string[], extra: Schema = {}): Schema => ({
  type: 'string',
  description,
  enum: [...values],
  ...extra,
});
export const list = (description: string, items: Schema, extra: Schema = {}): Schema => ({
  type: 'array',
  description,
  items,
  ...extra,
});
export const obj = (
  description: string,
  properties: Record<string, Schema>,
  extra: { required?: string[]; rules?: Rule[] } & Schema = {},
): Schema => {
  const { required, rules, ...rest } = extra;
  return {
    type: 'object',
    description,
    properties,
    ...(required?.length ? { required } : {}),
    ...(rules?.length ? { 'x-kubernetes-validations': rules } : {}),
    ...rest,
  };
};

/**
 * A metav1.LabelSelector, validated as Kubernetes validates one (keys are qualified names, values label values,
 * `values` set exactly for In/NotIn): the API server does not check selectors inside custom resources, and a
 * selector Kubernetes refuses would only fail later, when the operator writes the policy. The bounds (maxItems,
 * maxProperties, maxLength) keep the estimated CEL cost within the API server's budget.
 */
export const labelSelector = (description: string): Schema =>
  obj(
    description,
    {
      matchLabels: {
        type: 'object',
        description: 'Labels that must all match (key: value).',
        additionalProperties: { type: 'string', maxLength: 63 },
        maxProperties: 64,
        'x-kubernetes-validations': [
          { rule: RULES.matchLabelsKeys, message: MESSAGES.matchLabelsKeys },
          { rule: RULES.matchLabelsValues, message: MESSAGES.matchLabelsValues },
        ],
      },
      matchExpressions: list(
        'Set-based requirements that must all match.',
        obj(
          'One requirement: key, operator and values.',
          {
            key: str('The label key.', {
              maxLength: 317,
              'x-kubernetes-validations': [{ rule: RULES.labelKey, message: MESSAGES.selectorKey }],
            }),
            operator: enumOf('How the key relates to the values.', ['In', 'NotIn', 'Exists', 'DoesNotExist']),
            values: list(
              'Values for In and NotIn; empty for Exists and DoesNotExist.',
              str('A label value.', {
                maxLength: 63,
                'x-kubernetes-validations': [
                  { rule: RULES.matches(PATTERNS.labelValue), message: MESSAGES.selectorValue },
                ],
              }),
              { maxItems: 64 },
            ),
          },
          {
            required: ['key', 'operator'],
            rules: [
              {
                rule: RULES.valuesRequired,
                message: MESSAGES.valuesRequired,
                fieldPath: '.values',
                reason: 'FieldValueRequired',
              },
              {
                rule: RULES.valuesForbidden,
                message: MESSAGES.valuesForbidden,
                fieldPath: '.values',
                reason: 'FieldValueForbidden',
              },
            ],
          },
        ),
        { maxItems: 32 },
      ),
    },
    { 'x-kubernetes-map-type': 'atomic' },
  );
