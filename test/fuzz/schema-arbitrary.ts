import fc from 'fast-check';

/** The part of JSON Schema 2020-12 that zod's toJSONSchema writes into the OpenAPI document. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
  description?: string;
}

/**
 * Values the server knows (ids of the fixture company, its users, roles, tokens), by property
 * or parameter name: a value drawn only from the schema would almost never name anything that
 * exists, and the request would stop at the first 404.
 */
export type Hints = Readonly<Record<string, fc.Arbitrary<unknown>>>;

/** Kept small: fuzzing wants many requests, and the mutations add the huge values. */
const MAX_GENERATED_ITEMS = 4;
const MAX_GENERATED_LENGTH = 40;

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? MAX_GENERATED_LENGTH, MAX_GENERATED_LENGTH));
  if (schema.pattern) {
    try {
      // fast-check cannot generate from look-arounds; without them the pattern still names the alphabet.
      const pattern = new RegExp(schema.pattern.replace(/\(\?[=!][^)]*\)/g, ''));
      const limit = schema.maxLength ?? Infinity;
      return fc.stringMatching(pattern, { size: 'xsmall' }).filter((s) => s.length >= minLength && s.length <= limit);
    } catch {
      // A pattern fast-check cannot read: fall back to any string of the right length.
    }
  }
  return fc.string({ minLength, maxLength, unit: 'grapheme' });
}

function numberOf(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + (integer ? 1 : Number.EPSILON) : undefined);
  const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - (integer ? 1 : Number.EPSILON) : undefined);
  if (integer) return fc.integer({ min: Math.max(min ?? -1_000_000, Number.MIN_SAFE_INTEGER), max: Math.min(max ?? 1_000_000, Number.MAX_SAFE_INTEGER) });
  return fc.double({ min: min ?? -1e9, max: max ?? 1e9, noNaN: true });
}

function objectOf(schema: JsonSchema, hints: Hints, depth: number, hintWeight: number): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const names = Object.keys(properties);
  if (names.length > 0) {
    const model = Object.fromEntries(names.map((name) => [name, arbitraryOf(properties[name]!, hints, name, depth + 1, hintWeight)]));
    return fc.record(model, { requiredKeys: (schema.required ?? []).filter((name) => name in properties) });
  }
  // A record: keys from propertyNames (or the hint for keys), values from additionalProperties.
  const value = typeof schema.additionalProperties === 'object' ? arbitraryOf(schema.additionalProperties, hints, undefined, depth + 1, hintWeight) : anyJson(depth);
  const key = fc.oneof(hints['(key)'] ? (hints['(key)'] as fc.Arbitrary<string>) : fc.constant('k'), schema.propertyNames ? stringOf(schema.propertyNames) : fc.string({ maxLength: 12 }));
  return fc.dictionary(key, value, { maxKeys: MAX_GENERATED_ITEMS });
}

const anyJson = (depth: number): fc.Arbitrary<unknown> => fc.jsonValue({ maxDepth: Math.max(0, 2 - depth) });

/**
 * An arbitrary of values valid for `schema` (as far as JSON Schema can say), mixed with hinted
 * values for `name`: `hintWeight` hinted values for one drawn from the schema alone.
 */
export function arbitraryOf(schema: JsonSchema, hints: Hints, name?: string, depth = 0, hintWeight = 3): fc.Arbitrary<unknown> {
  const fromSchema = arbitraryOfSchema(schema, hints, depth, hintWeight);
  // A schema that lists its values already names real ones.
  const hint = name === undefined || schema.enum || schema.const !== undefined ? undefined : hints[name];
  return hint ? fc.oneof({ weight: hintWeight, arbitrary: hint }, { weight: 1, arbitrary: fromSchema }) : fromSchema;
}

function arbitraryOfSchema(schema: JsonSchema, hints: Hints, depth: number, hintWeight: number): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((alternative) => arbitraryOfSchema(alternative, hints, depth, hintWeight)));
  if (schema.allOf?.length) return arbitraryOfSchema(Object.assign({}, ...schema.allOf) as JsonSchema, hints, depth, hintWeight);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return stringOf(schema);
    case 'integer':
      return numberOf(schema, true);
    case 'number':
      return numberOf(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? MAX_GENERATED_ITEMS, MAX_GENERATED_ITEMS));
      return fc.array(schema.items ? arbitraryOfSchema(schema.items, hints, depth + 1, hintWeight) : anyJson(depth), { minLength, maxLength });
    }
    case 'object':
      return objectOf(schema, hints, depth, hintWeight);
    default:
      return anyJson(depth);
  }
}
