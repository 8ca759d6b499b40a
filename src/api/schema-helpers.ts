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

export const labelSelector = (description: string): Schema =>
  obj(
    description,
    {
      matchLabels: {
        type: 'object',
        description: 'Labels that must all match (key: value).',
        additionalProperties: { type: 'string' },
      },
      matchExpressions: list(
        'Set-based requirements that must all match.',
        obj(
          'One requirement: key, operator and values.',
          {
            key: str('The label key.', { maxLength: 317 }),
            operator: enumOf('How the key relates to the values.', ['In', 'NotIn', 'Exists', 'DoesNotExist']),
            values: list(
              'Values for In and NotIn; empty for Exists and DoesNotExist.',
              { type: 'string' },
              {
                maxItems: 64,
              },
            ),
          },
          { required: ['key', 'operator'] },
        ),
        { maxItems: 32 },
      ),
    },
    { 'x-kubernetes-map-type': 'atomic' },
  );
