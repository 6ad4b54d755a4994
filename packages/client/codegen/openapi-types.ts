/**
 * TypeScript types from Castellan's OpenAPI document, so the client's request and answer
 * types are the server's zod schemas (the document is built from them) and never a second,
 * hand-written copy. Only the subset of JSON Schema that zod's toJSONSchema emits for the
 * check API is understood; anything else fails loudly rather than becoming `any`.
 */

export interface Operation {
  method: 'get' | 'post';
  path: string;
  /** Prefix of the emitted names: `${name}Request`, `${name}Params`, `${name}Query`, `${name}Answer`. */
  name: string;
}

/** The operations the client speaks. */
export const CLIENT_OPERATIONS: readonly Operation[] = [
  { method: 'post', path: '/v1/check', name: 'Check' },
  { method: 'post', path: '/v1/check/batch', name: 'Batch' },
  { method: 'post', path: '/v1/accessible', name: 'Accessible' },
  { method: 'get', path: '/v1/companies/{company}/principals/{userId}/rules', name: 'Rules' },
  { method: 'post', path: '/authzen/{company}/access/v1/evaluation', name: 'Evaluation' },
  { method: 'post', path: '/authzen/{company}/access/v1/evaluations', name: 'Evaluations' },
];

type Schema = Record<string, unknown>;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const propertyName = (name: string) => (IDENTIFIER.test(name) ? name : JSON.stringify(name));
const indent = (text: string, depth: number) => text.replace(/\n/g, `\n${'  '.repeat(depth)}`);
const literal = (value: unknown) => JSON.stringify(value);
/** A member of a union or an array element that needs parentheses around it. */
const grouped = (type: string) => (/[|&]/.test(type) && !type.startsWith('{') ? `(${type})` : type);

function docComment(schema: Schema): string {
  const lines = [schema.description, schema.pattern === undefined ? undefined : `pattern: ${String(schema.pattern)}`].filter((line): line is string => typeof line === 'string');
  if (lines.length === 0) return '';
  return `/** ${lines.join('; ').replace(/\*\//g, '*\\/')} */\n`;
}

function union(types: string[]): string {
  const unique = [...new Set(types)];
  return unique.length === 1 ? unique[0]! : unique.map(grouped).join(' | ');
}

function refName(ref: string): string {
  const match = /^#\/components\/schemas\/([A-Za-z0-9_]+)$/.exec(ref);
  if (!match) throw new Error(`unsupported $ref ${ref}`);
  return match[1]!;
}

function objectType(schema: Schema): string {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required ?? []) as string[]);
  const extra = schema.additionalProperties;
  const members = Object.entries(properties).map(([name, property]) => `${docComment(property)}${propertyName(name)}${required.has(name) ? '' : '?'}: ${typeOf(property)};`);
  if (extra !== undefined && extra !== false) members.push(`[key: string]: ${extra === true ? 'unknown' : typeOf(extra as Schema)};`);
  if (members.length === 0) return 'Record<string, never>';
  return `{\n  ${members.map((m) => indent(m, 1)).join('\n  ')}\n}`;
}

/** The TypeScript type of one schema. */
export function typeOf(schema: Schema): string {
  if (typeof schema.$ref === 'string') return refName(schema.$ref);
  if (Array.isArray(schema.anyOf)) return union((schema.anyOf as Schema[]).map(typeOf));
  if (Array.isArray(schema.oneOf)) return union((schema.oneOf as Schema[]).map(typeOf));
  if (Array.isArray(schema.enum)) return union((schema.enum as unknown[]).map(literal));
  if ('const' in schema) return literal(schema.const);
  const type = schema.type;
  if (Array.isArray(type)) return union(type.map((t) => typeOf({ ...schema, type: t })));
  switch (type) {
    case undefined:
      return 'unknown';
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return `${grouped(typeOf((schema.items ?? {}) as Schema))}[]`;
    case 'object':
      return objectType(schema);
    default:
      throw new Error(`unsupported schema type ${String(type)}`);
  }
}

interface Document {
  paths: Record<string, Record<string, Schema>>;
  components?: { schemas?: Record<string, Schema> };
}

const jsonSchemaOf = (content: unknown): Schema | undefined => (content as { 'application/json'?: { schema?: Schema } } | undefined)?.['application/json']?.schema;

/** Path or query parameters as one object type; null when there are none. */
function parametersType(operation: Schema, where: 'path' | 'query'): string | null {
  const parameters = ((operation.parameters ?? []) as Array<{ name: string; in: string; required?: boolean; schema: Schema }>).filter((p) => p.in === where);
  if (parameters.length === 0) return null;
  return typeOf({
    type: 'object',
    properties: Object.fromEntries(parameters.map((p) => [p.name, p.schema])),
    required: parameters.filter((p) => p.required).map((p) => p.name),
    additionalProperties: false,
  });
}

function operationTypes(document: Document, { method, path, name }: Operation): string[] {
  const operation = document.paths[path]?.[method];
  if (!operation) throw new Error(`/openapi.json has no ${method.toUpperCase()} ${path}`);
  const where = `${method.toUpperCase()} ${path}`;
  const out: string[] = [];
  const emit = (suffix: string, what: string, type: string) => out.push(`/** ${where}: ${what} */\nexport type ${name}${suffix} = ${type};`);
  const body = jsonSchemaOf((operation.requestBody as Schema | undefined)?.content);
  if (body) emit('Request', 'the request body', typeOf(body));
  const params = parametersType(operation, 'path');
  if (params) emit('Params', 'the path parameters', params);
  const query = parametersType(operation, 'query');
  if (query) emit('Query', 'the query parameters', query);
  const success = jsonSchemaOf(((operation.responses ?? {}) as Record<string, Schema>)['200']?.content);
  if (!success) throw new Error(`${where} documents no JSON 200 answer`);
  emit('Answer', 'the 200 answer', typeOf(success));
  return out;
}

/** The whole generated module: the operations' types, then the component schemas they use. */
export function generateClientTypes(document: Document, operations: readonly Operation[] = CLIENT_OPERATIONS): string {
  const blocks = operations.flatMap((operation) => operationTypes(document, operation));
  const components = Object.entries(document.components?.schemas ?? {}).map(([name, schema]) => `/** components.schemas.${name} */\nexport type ${name} = ${typeOf(schema)};`);
  return [
    '// Generated from the OpenAPI document Castellan serves at /openapi.json, by',
    '// packages/client/codegen/openapi-types.ts. Do not edit: `npm run client:types` writes it again,',
    '// and packages/client/test/openapi-types.test.ts fails while it differs from a running server.',
    '',
    ...[...blocks, ...components].flatMap((block) => [block, '']),
  ].join('\n');
}
