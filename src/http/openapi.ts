import { z } from 'zod';
import type { Route } from './route.js';

/** What the document needs of an endpoint: a Route, or the description of one served outside express. */
export type DocumentedRoute = Pick<Route, 'method' | 'path' | 'summary' | 'description' | 'tag' | 'params' | 'query' | 'body' | 'success' | 'alsoSucceeds' | 'errors' | 'headers'> & {
  /** A `service` route a user's own token may also call, about that user (self-check.ts). */
  askedAbout?: unknown;
  /** `gateway`: forward-auth, where Authorization carries the end user's token and the gateway's credential has a header of its own. */
  security: Route['security'] | 'gateway';
  operator?: 'beside';
  /** The success body's media type when it is not JSON. */
  produces?: string;
};

/** The contract's error codes and their statuses (API.md, Conventions). */
export const ERROR_STATUS: Readonly<Record<string, number>> = {
  invalid_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  last_admin: 409,
  role_immutable: 409,
  license_limit: 409,
  domain_taken: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  too_many_requests: 429,
  unavailable: 503,
};

export const errorBodySchema = z.object({
  error: z.object({
    code: z.string().describe('snake_case error code from the contract'),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

type JsonSchema = Record<string, unknown>;

/** JSON Schema 2020-12, which OpenAPI 3.1 uses as is, without the per-document `$schema` key. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (object.required ?? []).includes(name),
    schema: property,
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
  }));
}

const capitalise = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

/** Unique per method and path: `putCompaniesByCompanyRolesCompanyByKey`. */
function operationId(route: DocumentedRoute): string {
  const words = route.path
    .split('/')
    .filter((part) => part && part !== 'v1' && !part.startsWith('.'))
    .map((part) => (part.startsWith('{') ? `By${capitalise(part.slice(1, -1))}` : part.split(/[^A-Za-z0-9]+/).map(capitalise).join('')));
  return route.method + words.map(capitalise).join('');
}

const RETRY_AFTER = { description: 'whole seconds to wait before trying again (also in error.details.retryAfterSeconds)', schema: { type: 'integer', minimum: 1 } };

function errorResponses(codes: readonly string[], withBody: boolean) {
  const byStatus = new Map<number, string[]>();
  for (const code of withBody ? ['invalid_request', ...codes] : codes) {
    const status = ERROR_STATUS[code];
    if (status === undefined) throw new Error(`unknown error code ${code}`);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      String(status),
      {
        description: [...new Set(list)].join(', '),
        ...(status === 429 ? { headers: { 'Retry-After': RETRY_AFTER } } : {}),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    ]),
  );
}

function successResponses(route: DocumentedRoute) {
  const content = route.produces
    ? { content: { [route.produces]: { schema: { type: 'string' } } } }
    : route.success.schema
      ? { content: { 'application/json': { schema: jsonSchema(route.success.schema, 'output') } } }
      : {};
  const headers = route.headers?.response
    ? { headers: Object.fromEntries(Object.entries(route.headers.response).map(([name, description]) => [name, { description, schema: { type: 'string' } }])) }
    : {};
  const responses: Record<string, unknown> = { [String(route.success.status)]: { description: route.success.description, ...headers, ...content } };
  if (route.alsoSucceeds) responses[String(route.alsoSucceeds.status)] = { description: route.alsoSucceeds.description, ...headers, ...(route.alsoSucceeds.empty ? {} : content) };
  return responses;
}

/** OpenAPI security requirements: alternatives, each a set of schemes sent together. */
function securityOf(route: DocumentedRoute): Array<Record<string, string[]>> | null {
  switch (route.security) {
    case 'user':
      return route.operator === 'beside' ? [{ bearerToken: [] }, { bearerToken: [], operatorToken: [] }] : [{ bearerToken: [] }];
    case 'user-or-operator':
      return [{ bearerToken: [] }, { operatorToken: [] }, { bearerToken: [], operatorToken: [] }];
    case 'service':
      return route.askedAbout ? [{ checkToken: [] }, { bearerToken: [] }, {}] : [{ checkToken: [] }, {}];
    case 'gateway':
      return [{ bearerToken: [], gatewayToken: [] }, { bearerToken: [] }];
    default:
      return null;
  }
}

/** A webhook Castellan sends (OpenAPI 3.1's `webhooks`): a POST to the receiver's URL. */
export interface DocumentedWebhook {
  name: string;
  summary: string;
  body: z.ZodType;
  /** Request headers Castellan sends, by name, with what they mean. */
  headers: Record<string, string>;
  /** What the receiver answers and what Castellan makes of it. */
  responses: Record<string, string>;
}

function webhookItem(webhook: DocumentedWebhook) {
  return {
    post: {
      operationId: `webhook${webhook.name.split(/[^A-Za-z0-9]+/).map(capitalise).join('')}`,
      summary: webhook.summary,
      tags: ['Webhooks'],
      parameters: Object.entries(webhook.headers).map(([name, description]) => ({ name, in: 'header', required: true, description, schema: { type: 'string' } })),
      requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(webhook.body, 'output') } } },
      responses: Object.fromEntries(Object.entries(webhook.responses).map(([status, description]) => [status, { description }])),
    },
  };
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/** Builds the OpenAPI 3.1 document from the same route definitions (and zod schemas) the server runs. */
export function buildOpenApi(info: OpenApiInfo, routes: readonly DocumentedRoute[], webhooks: readonly DocumentedWebhook[] = []): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const takesInput = Boolean(route.body || route.params || route.query);
    const operation: Record<string, unknown> = {
      operationId: operationId(route),
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [route.tag],
      parameters: [
        ...parametersOf(route.params, 'path'),
        ...parametersOf(route.query, 'query'),
        ...Object.entries(route.headers?.request ?? {}).map(([name, description]) => ({ name, in: 'header', required: false, description, schema: { type: 'string' } })),
      ],
      responses: {
        ...successResponses(route),
        ...errorResponses(route.errors, takesInput),
      },
    };
    if (route.body) operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } };
    const security = securityOf(route);
    if (security) operation.security = security;
    (paths[route.path] ??= {})[route.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    ...(webhooks.length ? { webhooks: Object.fromEntries(webhooks.map((webhook) => [webhook.name, webhookItem(webhook)])) } : {}),
    components: {
      schemas: { Error: jsonSchema(errorBodySchema, 'output') },
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "A user's JWT: Castellan's own (local users) or a configured identity provider's" },
        checkToken: { type: 'http', scheme: 'bearer', description: 'CHECK_TOKEN, when configured (always when listening beyond loopback)' },
        gatewayToken: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Castellan-Check-Token',
          description: 'CHECK_TOKEN, sent by the gateway on forward-auth requests when configured (Authorization carries the end user); missing or wrong is 403',
        },
        operatorToken: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Castellan-Operator-Token',
          description: "OPERATOR_TOKEN: the platform's billing side (plans, licenses, domains it verified, deleted companies' audit logs); a wrong one is 401",
        },
      },
    },
  };
}
