import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

/** Every endpoint of ../shared/API.md, transcribed: the contract the document must cover. */
const CONTRACT: ReadonlyArray<readonly [string, string]> = [
  ['post', '/v1/check'],
  ['post', '/v1/check/batch'],
  ['get', '/v1/companies/{company}/principals/{userId}/rules'],
  ['post', '/v1/accessible'],
  ...(['get', 'post', 'put', 'patch', 'delete'] as const).map((method) => [method, '/v1/forward-auth'] as const),
  ['get', '/.well-known/authzen-configuration/{company}'],
  ...['evaluation', 'evaluations', 'search/subject', 'search/resource', 'search/action'].map((endpoint) => ['post', `/authzen/{company}/access/v1/${endpoint}`] as const),
  ['post', '/v1/companies'],
  ['get', '/v1/companies/{company}'],
  ['patch', '/v1/companies/{company}'],
  ['delete', '/v1/companies/{company}'],
  ['post', '/v1/companies/{company}/ownership'],
  ['put', '/v1/companies/{company}/domains'],
  ['put', '/v1/companies/{company}/subscription'],
  ['get', '/v1/companies/{company}/members'],
  ['get', '/v1/companies/{company}/members/{userId}'],
  ['post', '/v1/companies/{company}/invitations'],
  ['post', '/v1/companies/{company}/invitations/accept'],
  ['post', '/v1/companies/{company}/local-users'],
  ['patch', '/v1/companies/{company}/members/{userId}'],
  ['delete', '/v1/companies/{company}/members/{userId}'],
  ['post', '/v1/auth/token'],
  ['get', '/.well-known/jwks.json'],
  ['get', '/v1/companies/{company}/roles'],
  ['put', '/v1/companies/{company}/roles/company/{key}'],
  ['post', '/v1/companies/{company}/roles/project'],
  ['put', '/v1/companies/{company}/roles/project/{key}'],
  ['delete', '/v1/companies/{company}/roles/project/{key}'],
  ['post', '/v1/companies/{company}/teams'],
  ['patch', '/v1/companies/{company}/teams/{teamId}'],
  ['delete', '/v1/companies/{company}/teams/{teamId}'],
  ['put', '/v1/companies/{company}/teams/{teamId}/members/{userId}'],
  ['delete', '/v1/companies/{company}/teams/{teamId}/members/{userId}'],
  ['put', '/v1/companies/{company}/projects/{projectId}'],
  ['delete', '/v1/companies/{company}/projects/{projectId}'],
  ['put', '/v1/companies/{company}/projects/{projectId}/members/users/{userId}'],
  ['delete', '/v1/companies/{company}/projects/{projectId}/members/users/{userId}'],
  ['put', '/v1/companies/{company}/projects/{projectId}/members/teams/{teamId}'],
  ['delete', '/v1/companies/{company}/projects/{projectId}/members/teams/{teamId}'],
  ['get', '/v1/companies/{company}/projects/{projectId}/members'],
  ['get', '/v1/companies/{company}/audit'],
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/metrics'],
  ['get', '/openapi.json'],
];

type Operation = {
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  parameters?: Array<{ name: string; in: string; schema: { pattern?: string }; description?: string }>;
  responses: Record<string, unknown>;
};
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

describe.skipIf(!servicesUp)('GET /openapi.json', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let document: Document;

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    const response = await api<Document>(app.url, 'GET', '/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    document = response.body;
  });
  afterAll(() => env?.close());

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('covers every endpoint of the contract, and nothing it does not serve', () => {
    const documented = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    for (const [method, path] of CONTRACT) expect(documented, `${method} ${path}`).toContain(`${method} ${path}`);
    // Extras beyond the contract: the team reads, issue 20's invitation lifecycle, self-service and projects list, and issue 15's access explain.
    expect(documented.filter((op) => !CONTRACT.some(([m, p]) => op === `${m} ${p}`)).sort()).toEqual([
      'delete /v1/companies/{company}/members/me',
      'get /v1/companies/{company}/members/me',
      'get /v1/companies/{company}/projects',
      'get /v1/companies/{company}/teams',
      'get /v1/companies/{company}/teams/{teamId}',
      'get /v1/me',
      'post /v1/companies/{company}/access/explain',
      'post /v1/companies/{company}/invitations/decline',
      'post /v1/companies/{company}/invitations/{userId}/resend',
    ]);
  });

  it('every documented operation is served (no "no route" 404)', async () => {
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of Object.keys(item)) {
        const concrete = path.replace(/\{(\w+)\}/g, 'x1');
        const response = await api(app.url, method.toUpperCase(), concrete, method === 'get' || method === 'delete' ? undefined : {});
        const noRoute = response.status === 404 && String(response.body?.error?.message ?? '').startsWith('no route');
        expect(noRoute, `${method} ${path}`).toBe(false);
      }
    }
  });

  it("documents the check API's credentials: the check token, or a user's own token about themself (never for /metrics)", () => {
    for (const [method, path] of [['post', '/v1/check'], ['post', '/v1/check/batch'], ['post', '/v1/accessible'], ['get', '/v1/companies/{company}/principals/{userId}/rules']] as const) {
      const op = (document.paths[path] as unknown as Record<string, { security: unknown; description?: string }>)[method]!;
      expect(op.security, path).toEqual([{ checkToken: [] }, { bearerToken: [] }, {}]);
      expect(op.description, path).toContain('to ask about themself only');
    }
  });

  it('describes forward-auth: the user token beside the gateway credential, and the headers it reads and answers', () => {
    const op = document.paths['/v1/forward-auth']!.get! as unknown as { security: unknown; parameters: Array<{ name: string; in: string }>; responses: Record<string, { headers?: Record<string, unknown> }> };
    expect(op.security).toEqual([{ bearerToken: [], gatewayToken: [] }, { bearerToken: [] }]);
    expect(op.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(['header:X-Forwarded-Method', 'header:X-Forwarded-Uri', 'header:X-Original-Method', 'header:X-Original-URI']);
    expect(Object.keys(op.responses).sort()).toEqual(['200', '401', '403', '503']);
    expect(Object.keys(op.responses['200']!.headers!)).toEqual(['X-Castellan-User', 'X-Castellan-Company', 'X-Castellan-Reason', 'X-Castellan-Version']);
  });

  it('describes the AuthZEN endpoints with their JSON bodies, which ignore unknown fields as the specification requires', () => {
    const op = document.paths['/authzen/{company}/access/v1/evaluations']!.post!;
    const schema = op.requestBody!.content['application/json']!.schema as { properties: Record<string, unknown>; additionalProperties?: unknown };
    expect(Object.keys(schema.properties).sort()).toEqual(['action', 'context', 'evaluations', 'options', 'resource', 'subject']);
    expect(schema.additionalProperties).toBeUndefined();
    expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '401', '503']);
    expect(op.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(['path:company', 'header:X-Request-ID']);
  });

  it('says which endpoints take the operator credential, and how', () => {
    const schemes = (document as unknown as { components: { securitySchemes: Record<string, unknown> } }).components.securitySchemes;
    expect(schemes.operatorToken).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-Castellan-Operator-Token' });
    const security = (method: string, path: string) => (document.paths[path]![method] as unknown as { security: unknown }).security;
    // Alone or beside a user's token.
    const either = [{ bearerToken: [] }, { operatorToken: [] }, { bearerToken: [], operatorToken: [] }];
    for (const path of ['/v1/companies/{company}/subscription', '/v1/companies/{company}/domains']) expect(security('put', path)).toEqual(either);
    expect(security('get', '/v1/companies/{company}/audit')).toEqual(either);
    // Only beside the token of the user who becomes the owner.
    expect(security('post', '/v1/companies')).toEqual([{ bearerToken: [] }, { bearerToken: [], operatorToken: [] }]);
    expect(security('patch', '/v1/companies/{company}')).toEqual([{ bearerToken: [] }]);
  });

  it('describes requests with the same schemas that validate them', () => {
    const createCompany = document.paths['/v1/companies']!.post!;
    const schema = createCompany.requestBody!.content['application/json']!.schema as { required: string[]; additionalProperties: boolean };
    // The plan is the platform's to choose (operator credential); without one the default applies.
    expect(schema.required.sort()).toEqual(['name']);
    // Strict bodies: unknown fields are refused, and the document says so.
    expect(schema.additionalProperties).toBe(false);
    const check = document.paths['/v1/check']!.post!.requestBody!.content['application/json']!.schema as {
      properties: { action: { enum: string[] }; resource: { properties: { type: { enum: string[] } } } };
    };
    expect(check.properties.resource.properties.type.enum).toContain('Scenario');
    expect(check.properties.action.enum).toEqual(expect.arrayContaining(['view', 'edit', 'use', 'manage']));
    expect(check.properties.action.enum).not.toContain('fly');
    const roleWrite = document.paths['/v1/companies/{company}/roles/company/{key}']!.put!;
    expect(roleWrite.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(['path:company', 'path:key', 'header:If-Match']);
    expect(Object.keys(roleWrite.responses).sort()).toEqual(['200', '400', '401', '403', '404', '409', '412']);
  });

  it('describes the invitation lifecycle: a re-invite answers 200, an expired accept 409', () => {
    const invite = document.paths['/v1/companies/{company}/invitations']!.post!;
    expect(Object.keys(invite.responses).sort()).toEqual(['200', '201', '400', '401', '403', '404', '409']);
    const member = (invite.responses['201'] as any).content['application/json'].schema;
    expect(member.properties.status.enum).toEqual(['invited', 'expired', 'active', 'inactive']);
    expect(Object.keys(member.properties.invitation.properties).sort()).toEqual(['expiresAt', 'invitedBy']);
    expect(document.paths['/v1/companies/{company}/invitations/accept']!.post!.responses['409']).toBeDefined();
  });

  it('describes every webhook event with its envelope, data and signature header', () => {
    const webhooks = (document as unknown as { webhooks: Record<string, { post: any }> }).webhooks;
    expect(Object.keys(webhooks)).toEqual(['invitation.created', 'invitation.resent', 'invitation.accepted', 'invitation.declined', 'member.removed']);
    for (const [type, item] of Object.entries(webhooks)) {
      const schema = item.post.requestBody.content['application/json'].schema;
      expect(schema.required.sort(), type).toEqual(['actor', 'company', 'createdAt', 'data', 'id', 'type', 'version']);
      expect(schema.properties.type.const, type).toBe(type);
      expect(item.post.parameters.map((p: { name: string }) => p.name)).toEqual(['X-Castellan-Signature', 'X-Castellan-Event-Id', 'X-Castellan-Event-Type', 'X-Castellan-Delivery-Attempt']);
      expect(Object.keys(item.post.responses)).toEqual(['2XX', 'default']);
    }
    const created = webhooks['invitation.created']!.post.requestBody.content['application/json'].schema;
    expect(Object.keys(created.properties.data.properties.invitation.properties).sort()).toEqual(['acceptUrl', 'applicationAccess', 'developerAccess', 'email', 'expiresAt', 'invitationId', 'role', 'type']);
    expect(webhooks['member.removed']!.post.requestBody.content['application/json'].schema.properties.data.properties.reason.enum).toEqual(['removed', 'left']);
  });

  it("describes user ids as the identity provider's sub (any 1-255 characters without control characters), other ids as before", () => {
    // JSON Schema patterns are ECMA-262 with Unicode semantics, as a validator such as Ajv compiles them.
    const accepts = (schema: { pattern?: string }, value: string) => new RegExp(schema.pattern!, 'u').test(value);
    const userIdParams = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, op]) => (op.parameters ?? []).filter((p) => p.name === 'userId').map((p) => ({ at: `${method} ${path}`, p }))),
    );
    expect(userIdParams.length).toBeGreaterThanOrEqual(8);
    for (const { at, p } of userIdParams) {
      for (const good of ['auth0|zed', 'google-oauth2|1234', 'ada@acme.test', 'a b', 'local:6f1c1c1e', '\u212Aim', 'x'.repeat(255)]) expect(accepts(p.schema, good), `${at} ${good}`).toBe(true);
      for (const bad of ['', 'a\u0000b', 'tab\there', 'x'.repeat(256)]) expect(accepts(p.schema, bad), `${at} ${JSON.stringify(bad)}`).toBe(false);
      expect(p.description, at).toMatch(/percent-encoded/);
    }
    const companyParam = document.paths['/v1/companies/{company}/members/{userId}']!.delete!.parameters!.find((p) => p.name === 'company')!;
    expect(accepts(companyParam.schema, 'auth0|zed')).toBe(false);

    const bodyField = (path: string, method: string, ...keys: string[]) => {
      let schema: any = document.paths[path]![method]!.requestBody!.content['application/json']!.schema;
      for (const key of keys) schema = key === '*' ? schema.anyOf.find((s: any) => s.properties?.id) : schema.properties[key];
      return schema as { pattern?: string };
    };
    for (const field of [
      bodyField('/v1/companies/{company}/ownership', 'post', 'userId'),
      bodyField('/v1/companies/{company}/projects/{projectId}', 'put', 'creatorId'),
      bodyField('/v1/check', 'post', 'principal', '*', 'id'),
    ]) {
      expect(accepts(field, 'auth0|zed')).toBe(true);
      expect(accepts(field, 'a\u0000b')).toBe(false);
    }
  });
});
