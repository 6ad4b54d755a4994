import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A small JSON Schema (2020-12) validator for the keywords the AuthZEN schemas of
 * test/authzen/schemas use: type, properties, required, additionalProperties, items, enum,
 * const, pattern, minimum, minLength, minItems, maxItems, format "uri", anyOf, oneOf and
 * local $ref. An unknown keyword is an error of the schema, so a schema can never check
 * less than it says. (@seriousme/openapi-schema-validator checks the schemas themselves.)
 */
export type JsonSchema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema', '$id', '$defs', '$ref', 'title', 'description',
  'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const',
  'pattern', 'minimum', 'minLength', 'minItems', 'maxItems', 'format', 'anyOf', 'oneOf',
]);

const typeOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;

const matchesType = (value: unknown, type: string) => {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
};

function resolve(root: JsonSchema, ref: string): JsonSchema {
  if (!ref.startsWith('#/')) throw new Error(`only local $ref are supported (got ${ref})`);
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], root) as JsonSchema;
}

/** Every place `value` breaks `schema`, as "path: problem"; empty when it conforms. */
export function validate(schema: JsonSchema, value: unknown, root: JsonSchema = schema, at = '$'): string[] {
  for (const keyword of Object.keys(schema)) if (!KNOWN.has(keyword)) throw new Error(`schema keyword "${keyword}" is not supported by this validator`);
  if (typeof schema.$ref === 'string') return validate(resolve(root, schema.$ref), value, root, at);
  const problems: string[] = [];
  const fail = (message: string) => problems.push(`${at}: ${message}`);
  if (typeof schema.type === 'string' && !matchesType(value, schema.type)) return [`${at}: must be ${schema.type}, is ${typeOf(value)}`];
  if (Array.isArray(schema.enum) && !schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))) fail(`must be one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) fail(`must be ${JSON.stringify(schema.const)}`);
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) fail(`must match ${schema.pattern}`);
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) fail(`must have at least ${schema.minLength} characters`);
    if (schema.format === 'uri' && !URL.canParse(value)) fail('must be a URI');
  }
  if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) fail(`must be at least ${schema.minimum}`);
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) fail(`must have at least ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) fail(`must have at most ${schema.maxItems} items`);
    if (schema.items) value.forEach((item, i) => problems.push(...validate(schema.items as JsonSchema, item, root, `${at}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of (schema.required as string[] | undefined) ?? []) if (!(key in object)) fail(`must have "${key}"`);
    const properties = (schema.properties as Record<string, JsonSchema> | undefined) ?? {};
    for (const [key, item] of Object.entries(object)) {
      if (properties[key]) problems.push(...validate(properties[key]!, item, root, `${at}.${key}`));
      else if (schema.additionalProperties === false) fail(`must not have "${key}"`);
      else if (typeof schema.additionalProperties === 'object') problems.push(...validate(schema.additionalProperties as JsonSchema, item, root, `${at}.${key}`));
    }
  }
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((option) => validate(option as JsonSchema, value, root, at).length === 0)) fail('must match one of anyOf');
  if (Array.isArray(schema.oneOf) && schema.oneOf.filter((option) => validate(option as JsonSchema, value, root, at).length === 0).length !== 1) fail('must match exactly one of oneOf');
  return problems;
}

const SCHEMAS = path.resolve(import.meta.dirname, '../authzen/schemas');

/** A schema of test/authzen/schemas by file name. */
export const authzenSchema = (name: string): JsonSchema => JSON.parse(readFileSync(path.join(SCHEMAS, `${name}.schema.json`), 'utf8')) as JsonSchema;
