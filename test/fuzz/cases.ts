import fc from 'fast-check';
import { encode, encoding, mutate, nastyString, toJsonText, valueMutation, type Encoding, type ValueMutation } from './mutations.js';
import type { RawRequest } from './http.js';
import { loadCatalog, permissions, question } from './catalog-hints.js';
import { KNOWN_ISSUES } from './known-issues.js';
import { arbitraryOf, type Hints, type JsonSchema } from './schema-arbitrary.js';
import type { World } from './world.js';

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: JsonSchema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, unknown>;
  security?: Array<Record<string, unknown>>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
}

/** One endpoint of the document, as the fuzzer reads it. */
export interface Endpoint {
  method: string;
  path: string;
  operation: Operation;
  /** The statuses the document promises: the success ones and the error ones. */
  statuses: ReadonlySet<number>;
  security: 'user' | 'service' | 'none';
}

export function endpointsOf(document: OpenApiDocument): Endpoint[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => {
      const schemes = (operation.security ?? []).flatMap((requirement) => Object.keys(requirement));
      return {
        method: method.toUpperCase(),
        path,
        operation,
        statuses: new Set(Object.keys(operation.responses).map(Number)),
        security: schemes.includes('bearerToken') ? ('user' as const) : schemes.includes('checkToken') ? ('service' as const) : ('none' as const),
      };
    }),
  );
}

/** A generated request, with what was done to it: printed as the reproducer when the server misbehaves. */
export interface FuzzCase {
  endpoint: Endpoint;
  request: RawRequest;
  /** False when the method or path was changed, so the request may land on no documented endpoint. */
  onEndpoint: boolean;
  notes: string[];
}

/** Path segments no router should choke on: bad percent-encoding, traversal, encoded separators, overlong UTF-8. */
const RAW_SEGMENTS = ['%', '%Z', '%ZZ', '%E0%A4%A', '%C0%AF', '%ED%A0%80', '%FF', '%00', '%0A', '..', '.', '%2e%2e', '%2F', '%2f..%2f', '%25', '%u0041', '%20', '~', '*', ';x=1', 'a%00b'];

/** Authorization header values beyond the world's tokens. */
const ODD_AUTHORIZATIONS = ['', 'Bearer', 'Bearer ', 'Bearer  ', 'bearer x', 'Basic dXNlcjpwYXNz', 'Bearer a.b.c', 'Bearer \u00e9\u00e8', `Bearer ${'a'.repeat(4000)}`, 'Token x', 'Bearer null'];

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/vnd.castellan+json',
  'application/json-patch+json',
  'application/jsonx',
  'application/json; charset=bogus',
  'application/json;;;',
  'APPLICATION/JSON',
  '*/*',
  'application/json, text/plain',
  'application',
  '',
];

function hintsOf(world: World): Hints {
  const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);
  // The world lists what exists first: mostly that, sometimes the rest (another company, things that do not exist).
  const firstMostly = <T>(values: readonly T[]) => fc.oneof({ weight: 4, arbitrary: fc.constant(values[0]!) }, { weight: 1, arbitrary: pick(values) });
  // Fresh names, so that creations succeed too rather than all meeting 409 conflict.
  const fresh = (prefix: string) => fc.nat(100_000).map((n) => `${prefix}-${n}`);
  const existingOrFresh = <T>(values: readonly T[], prefix: string) => fc.oneof({ weight: 3, arbitrary: pick(values) }, { weight: 1, arbitrary: fresh(prefix) });
  const ids = fc.oneof(pick(world.companies), pick(world.teams), pick(world.projects), pick(world.users), fresh('fz-new'));
  return {
    company: firstMostly(world.companies),
    userId: pick(world.users),
    creatorId: pick(world.users),
    teamId: existingOrFresh(world.teams, 'fz-team-new'),
    projectId: existingOrFresh(world.projects, 'fz-p-new'),
    key: fc.oneof(existingOrFresh(world.projectRoles, 'fz-role-new'), pick(['admin', 'manager', 'editor', 'collaborator'])),
    role: pick(world.projectRoles),
    id: ids,
    email: fc.oneof(pick(world.emails), fresh('fz-new').map((name) => `${name}@fuzz.test`)),
    login: existingOrFresh(world.logins, 'fz-login'),
    password: pick(world.passwords),
    token: firstMostly(world.userTokens),
    minVersion: pick(world.versions),
    after: pick(['MQ', 'MTA', 'OTk5OTk5OTk5OTk5OTk5OTk5OQ', 'AA', '']),
    limit: pick(['1', '50', '500', '501', '0', '-1', '1.5', 'x']),
    format: pick(['raw', 'packed', 'other']),
    // Keys of records (resource attributes): the catalog's attributes, mostly.
    '(key)': pick(['projectId', 'id', 'owner', '__proto__', 'constructor']),
    'If-Match': pick(world.etags),
    'X-Castellan-Operator-Token': pick([...world.operatorTokens, 'wrong', '']),
  };
}

/**
 * Node answers a request line and headers over 16 KiB itself (431, no body), before Castellan
 * sees them: generated paths and headers stay under that, huge values go into bodies.
 */
const MAX_SEGMENT = 1500;
const MAX_PATH = 6000;
const MAX_HEADER = 1000;
const MAX_AUTHORIZATION = 4100;

/** Header values node:http will send: printable ASCII and Latin-1, no line breaks. */
const headerSafe = (value: string, max = MAX_HEADER) => value.slice(0, max).replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function encodeSegment(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined');
  // encodeURIComponent throws on a lone surrogate: send the bytes a careless encoder would (CESU-8), which are not UTF-8.
  const encoded = text
    .split(LONE_SURROGATE)
    .map((part) => encodeURIComponent(part))
    .join('%ED%A0%80');
  // Cut between escapes, never inside one.
  return encoded.length <= MAX_SEGMENT ? encoded : encoded.slice(0, MAX_SEGMENT).replace(/%[0-9A-F]?$/, '');
}

interface Draft {
  params: Record<string, { value: unknown; raw?: string }>;
  query: Array<[string, unknown]>;
  rawQuery?: string | undefined;
  headers: Record<string, string>;
  body?: unknown;
  mutations: ValueMutation[];
  encoding: Encoding;
  contentType?: string | undefined;
  method?: string | undefined;
  pathSuffix?: string | undefined;
  chunked: boolean;
}

/** `arbitrary`'s value once in `n` cases, else undefined. */
const oneIn = <T>(n: number, arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
/** `arbitrary`'s value except once in `n` cases. */
const mostly = <T>(arbitrary: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: n - 1, arbitrary }, { weight: 1, arbitrary: fc.constant(undefined) });

/** Hinted values for every one drawn from the schema alone, in well-formed requests. */
const WELL_FORMED_HINT_WEIGHT = 20;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

const catalog = loadCatalog();

/**
 * Hints of one endpoint's own. Deleting a company names the world's doomed ones or one that is
 * not there, never the world's own; checks and role permissions come from the catalog.
 */
function endpointHints(endpoint: Endpoint, world: World, hints: Hints): Hints {
  const route = `${endpoint.method} ${endpoint.path}`;
  if (route === 'DELETE /v1/companies/{company}') return { ...hints, company: fc.constantFrom(...world.doomed, ...world.companies.slice(1)) };
  if (route === 'POST /v1/check/batch') return { ...hints, checks: fc.array(question(catalog, world), { minLength: 1, maxLength: 4 }) };
  if (route === 'PUT /v1/companies/{company}/roles/company/{key}') return { ...hints, permissions: permissions(catalog, 'company') };
  if (endpoint.path.startsWith('/v1/companies/{company}/roles/project')) return { ...hints, permissions: permissions(catalog, 'project') };
  return hints;
}

/** A well-formed /v1/check body: the schema's envelope around a question from the catalog. */
function wellFormedCheck(world: World, hints: Hints, bodySchema: JsonSchema): fc.Arbitrary<unknown> {
  return fc
    .tuple(arbitraryOf(bodySchema, hints, undefined, 0, WELL_FORMED_HINT_WEIGHT), question(catalog, world))
    .map(([body, q]) => {
      const { action: _action, resource: _resource, field: _field, ...envelope } = body as Record<string, unknown>;
      return { ...envelope, ...q };
    });
}

/**
 * Requests for one endpoint, of two kinds: well-formed ones (valid by the endpoint's schemas,
 * naming what exists, with members' tokens), which reach the services and the database; and
 * hostile ones, mutated in their values, bytes, encodings, headers, path and method.
 */
function caseFor(endpoint: Endpoint, world: World, allHints: Hints): fc.Arbitrary<FuzzCase> {
  const hints = endpointHints(endpoint, world, allHints);
  const parameters = endpoint.operation.parameters ?? [];
  const pathParameters = parameters.filter((p) => p.in === 'path');
  const queryParameters = parameters.filter((p) => p.in === 'query');
  const headerParameters = parameters.filter((p) => p.in === 'header');
  const bodySchema = endpoint.operation.requestBody?.content['application/json']?.schema;
  const hasBody = Boolean(bodySchema);
  const paramsOf = (param: (p: Parameter) => fc.Arbitrary<{ value: unknown; raw?: string }>) =>
    fc.record(Object.fromEntries(pathParameters.map((p) => [p.name, param(p)])) as Record<string, fc.Arbitrary<{ value: unknown; raw?: string }>>);
  const knownQuery = (value: (p: Parameter) => fc.Arbitrary<unknown>) =>
    fc.record(Object.fromEntries(queryParameters.map((p) => [p.name, value(p)])), { requiredKeys: queryParameters.filter((p) => p.required).map((p) => p.name) });

  const memberTokens = fc
    .oneof({ weight: 3, arbitrary: fc.constant(world.validTokens[0]!) }, { weight: 2, arbitrary: fc.constant(world.validTokens[1]!) }, { weight: 2, arbitrary: fc.constantFrom(...world.validTokens) })
    .map((token) => `Bearer ${token}`);
  const service = fc.constantFrom(...world.serviceAuthorizations);
  const usualAuthorization = endpoint.security === 'user' ? memberTokens : endpoint.security === 'service' ? service : fc.oneof(memberTokens, service);
  const documentedHeaders = (value: (p: Parameter) => fc.Arbitrary<unknown>) =>
    fc.record(Object.fromEntries(headerParameters.map((p) => [p.name.toLowerCase(), value(p)])), { requiredKeys: [] });

  const wellFormed: fc.Arbitrary<Draft> = fc.record({
    params: paramsOf((p) => arbitraryOf(p.schema, hints, p.name, 0, WELL_FORMED_HINT_WEIGHT).map((value) => ({ value }))),
    query: knownQuery((p) => arbitraryOf(p.schema, hints, p.name, 0, WELL_FORMED_HINT_WEIGHT)).map((known) => Object.entries(known)),
    headers: fc.tuple(usualAuthorization, documentedHeaders((p) => hints[p.name] ?? fc.string())).map(([authorization, documented]) => ({
      authorization,
      ...Object.fromEntries(Object.entries(documented).map(([name, value]) => [name, headerSafe(String(value))])),
    })),
    body: !bodySchema
      ? fc.constant(undefined)
      : endpoint.path === '/v1/check'
        ? wellFormedCheck(world, hints, bodySchema)
        : arbitraryOf(bodySchema, hints, undefined, 0, WELL_FORMED_HINT_WEIGHT),
    mutations: fc.constant([]),
    encoding: fc.constant({ kind: 'json' as const }),
    chunked: fc.constant(false),
  });

  const param = (p: Parameter) =>
    fc.oneof(
      { weight: 12, arbitrary: arbitraryOf(p.schema, hints, p.name).map((value) => ({ value })) },
      { weight: 2, arbitrary: nastyString.map((value) => ({ value })) },
      { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((raw) => ({ value: raw, raw })) },
    );
  const query = fc
    .tuple(
      knownQuery((p) => fc.oneof({ weight: 6, arbitrary: arbitraryOf(p.schema, hints, p.name) }, { weight: 1, arbitrary: nastyString })),
      fc.array(fc.tuple(fc.oneof(fc.constantFrom(...queryParameters.map((p) => p.name), 'extra', '__proto__', 'limit[]'), fc.string({ maxLength: 6 })), nastyString), { maxLength: 2 }),
      fc.nat(7),
    )
    .map(([known, extra, oneInEight]) => [...Object.entries(known), ...(oneInEight === 0 ? extra : [])] as Array<[string, unknown]>);
  const rawQuery = oneIn(12, fc.constantFrom('?', '?&&', '?%ZZ=1', '?limit=%ZZ', '?a=1&a=2&a=3', `?${'x=1&'.repeat(1000)}`, '?after=%00', '?format=raw&format=packed'));

  const authorization = fc.oneof(
    { weight: 10, arbitrary: usualAuthorization.map((v): string | undefined => v) },
    { weight: 3, arbitrary: fc.constantFrom(...world.userTokens).map((t): string | undefined => `Bearer ${t}`) },
    { weight: 2, arbitrary: fc.oneof(fc.constantFrom(...ODD_AUTHORIZATIONS), nastyString.map((s) => `Bearer ${s}`)).map((v): string | undefined => v) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  const headers = fc
    .tuple(
      authorization,
      documentedHeaders((p) => fc.oneof({ weight: 4, arbitrary: hints[p.name] ?? fc.string() }, { weight: 1, arbitrary: nastyString })),
      oneIn(8, fc.oneof(fc.uuid(), nastyString)),
      oneIn(8, fc.constantFrom('application/json', 'text/html', '*/*', 'application/xml', '')),
    )
    .map(([auth, documented, requestId, accept]) => {
      const result: Record<string, string> = {};
      if (auth !== undefined) result.authorization = headerSafe(auth, MAX_AUTHORIZATION);
      for (const [name, value] of Object.entries(documented)) result[name] = headerSafe(String(value));
      if (requestId !== undefined) result['x-request-id'] = headerSafe(requestId);
      if (accept !== undefined) result.accept = accept;
      return result;
    });

  const hostile: fc.Arbitrary<Draft> = fc.record({
    params: paramsOf(param),
    query,
    rawQuery,
    headers,
    body: bodySchema
      ? mostly(arbitraryOf(bodySchema, hints), 30)
      : fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
    mutations: fc.oneof({ weight: 1, arbitrary: fc.constant([] as ValueMutation[]) }, { weight: 3, arbitrary: fc.array(valueMutation, { minLength: 1, maxLength: 3 }) }),
    encoding,
    contentType: oneIn(10, fc.constantFrom(...CONTENT_TYPES)),
    method: oneIn(25, fc.constantFrom(...METHODS.filter((m) => m !== endpoint.method))),
    pathSuffix: oneIn(30, fc.constantFrom('/', '/x', '//', '/..', '/%2e%2e', '?', '#')),
    chunked: fc.boolean(),
  });

  return fc.oneof({ weight: 2, arbitrary: wellFormed }, { weight: 3, arbitrary: hostile }).map((d) => build(endpoint, d, hasBody));
}

function build(endpoint: Endpoint, d: Draft, hasBody: boolean): FuzzCase {
  const notes: string[] = [];
  let path = endpoint.path.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const param = d.params[name];
    if (!param) return 'x';
    if (param.raw !== undefined) notes.push(`raw segment ${param.raw}`);
    return param.raw ?? encodeSegment(param.value);
  });
  if (d.pathSuffix !== undefined) {
    path += d.pathSuffix;
    notes.push(`path suffix ${d.pathSuffix}`);
  }
  if (d.rawQuery !== undefined) {
    path += d.rawQuery;
    notes.push('raw query');
  } else if (d.query.length) {
    path += `?${d.query.map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join('&')}`;
  }

  if (path.length > MAX_PATH) path = path.slice(0, MAX_PATH).replace(/%[0-9A-Fa-f]?$/, '');

  const headers = { ...d.headers };
  let body: Buffer | undefined;
  if (d.body !== undefined) {
    const mutated = hasBody ? mutate(d.body, d.mutations) : { value: d.body, notes: ['a body where none is taken'] };
    notes.push(...mutated.notes);
    const text = toJsonText(mutated.value);
    const encoded = encode(text, d.encoding);
    if (encoded.note) notes.push(encoded.note);
    body = encoded.body;
    headers['content-type'] = d.contentType ?? `application/json${encoded.charset ? `; charset=${encoded.charset}` : ''}`;
    if (d.contentType !== undefined) notes.push(`content-type ${JSON.stringify(d.contentType)}`);
    if (encoded.contentEncoding !== undefined) headers['content-encoding'] = encoded.contentEncoding;
    if (d.chunked) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = String(body.length);
  } else if (hasBody) {
    notes.push('no body');
  }

  const method = d.method ?? endpoint.method;
  if (d.method !== undefined) notes.push(`method ${d.method}`);
  return { endpoint, request: { method, path, headers, body }, onEndpoint: d.method === undefined && d.pathSuffix === undefined, notes };
}

/** Every endpoint of the document, equally likely; each with its own generator. */
export function fuzzCases(endpoints: readonly Endpoint[], world: World): fc.Arbitrary<FuzzCase> {
  const hints = hintsOf(world);
  return fc.oneof(...endpoints.map((endpoint) => caseFor(endpoint, world, hints))).filter((fuzzCase) => !KNOWN_ISSUES.some((issue) => issue.matches(fuzzCase, world)));
}

/** The request as a shell command, to replay a failure by hand. */
export function reproducer(port: number, fuzzCase: FuzzCase): string {
  const { method, path, headers, body } = fuzzCase.request;
  const headerArgs = Object.entries(headers)
    .filter(([name]) => name !== 'content-length' && name !== 'transfer-encoding')
    .map(([name, value]) => `-H ${shellQuote(`${name}: ${value.length > 200 ? `${value.slice(0, 200)}…` : value}`)}`)
    .join(' ');
  const bodyArg = body === undefined ? '' : body.length <= 2000 ? ` --data-binary @<(printf %s ${shellQuote(body.toString('base64'))} | base64 -d)` : ` --data-binary @<(# ${body.length} bytes, starting ${shellQuote(body.subarray(0, 200).toString('base64'))} in base64)`;
  return `curl -s -X ${method} ${shellQuote(`http://127.0.0.1:${port}${path.length > 500 ? `${path.slice(0, 500)}…` : path}`)} ${headerArgs}${bodyArg}`;
}

const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
