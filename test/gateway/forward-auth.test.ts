import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, signToken, startApp, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { seedCompany } from '../check/seed.js';

const CHECK_TOKEN = 'gateway-check-token-0123456789';
const ODD_USER = 'auth0|caf\u00e9 \u65e5\u672c%';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request: fetch would resolve dot segments and re-encode the path before sending it. */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** As nginx, Caddy or Traefik ask: the original request in X-Forwarded-* headers, the user's token as is. */
function forward(base: string, method: string, uri: string, token: string | null, extra: Record<string, string> = {}): Promise<Reply> {
  return raw(base, 'GET', '/v1/forward-auth', {
    'x-forwarded-method': method,
    'x-forwarded-uri': uri,
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...extra,
  });
}

const scenarioUri = (project: string, scenario = 's-1') => `/api/companies/acme/projects/${project}/scenarios/${scenario}`;

describe.skipIf(!servicesUp)('forward-auth (API.md, Gateway forward-auth)', () => {
  let env: TestEnvironment;
  let open: TestApp;
  let guarded: TestApp;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    env = await createTestEnvironment();
    open = await env.start();
    guarded = await env.start({ CHECK_TOKEN });
    await seedCompany(open.app.store.db, open.app.policies, {
      id: 'acme',
      members: [
        { id: 'collab', role: 'collaborator' },
        { id: 'teamed', role: 'collaborator' },
        { id: 'mgr', role: 'manager' },
        { id: 'boss', role: 'admin', owner: true },
        { id: ODD_USER, role: 'collaborator' },
        { id: 'maker', role: 'collaborator' },
      ],
      projectRoles: [{ key: 'creator', permissions: [{ action: 'create', subject: 'Scenario' }] }],
      teams: [{ id: 'design', members: ['teamed'] }],
      projects: ['p1', 'p2'],
      grants: [
        { project: 'p1', role: 'contributor', user: 'collab' },
        { project: 'p2', role: 'viewer', team: 'design' },
        { project: 'p1', role: 'viewer', user: ODD_USER },
        { project: 'p1', role: 'creator', user: 'maker' },
      ],
    });
    for (const user of ['collab', 'teamed', 'mgr', 'boss', 'stranger', 'maker', ODD_USER]) tokens[user] = await signToken(user);
  });
  afterAll(() => env?.close());

  it('allows with exactly 200, an empty body and the X-Castellan-* headers for the upstream', async () => {
    const reply = await forward(open.url, 'GET', scenarioUri('p1'), tokens.collab!, { 'x-request-id': 'gw-req-1' });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('');
    expect(reply.headers).toMatchObject({
      'x-castellan-user': 'collab',
      'x-castellan-company': 'acme',
      'x-castellan-reason': 'role contributor on project p1 allows view Scenario',
      'x-castellan-version': expect.stringMatching(/^\d+$/),
      'x-request-id': 'gw-req-1',
    });
  });

  it('decides with the check path: grants through teams, company roles, the registered-project rule (D15)', async () => {
    expect((await forward(open.url, 'GET', scenarioUri('p2'), tokens.teamed!)).status).toBe(200);
    expect((await forward(open.url, 'PATCH', scenarioUri('p2'), tokens.teamed!)).status).toBe(403);
    expect((await forward(open.url, 'PATCH', '/api/companies/acme/settings/branding', tokens.mgr!)).status).toBe(200);
    expect((await forward(open.url, 'GET', '/api/companies/acme/projects/p1', tokens.mgr!)).status).toBe(200);
    const unregistered = await forward(open.url, 'GET', '/api/companies/acme/projects/p-gone', tokens.boss!);
    expect(unregistered).toMatchObject({ status: 403, headers: { 'x-castellan-reason': 'project p-gone is not registered in acme' } });
  });

  it('denies with 403 and a reason, and the error body a gateway may show', async () => {
    const reply = await forward(open.url, 'DELETE', scenarioUri('p1'), tokens.collab!);
    expect(reply.status).toBe(403);
    expect(reply.headers['x-castellan-reason']).toBe('no rule allows delete Scenario');
    expect(reply.headers['x-castellan-user']).toBeUndefined();
    expect(JSON.parse(reply.body)).toEqual({ error: { code: 'forbidden', message: 'no rule allows delete Scenario' } });
  });

  it('a user of no membership, or of another company, is denied', async () => {
    expect((await forward(open.url, 'GET', scenarioUri('p1'), tokens.stranger!)).status).toBe(403);
    expect((await forward(open.url, 'GET', '/api/companies/globex/projects/p1/scenarios/s-1', tokens.collab!)).status).toBe(403);
  });

  it('a request no route matches is denied (default deny), whatever the user may do', async () => {
    const reply = await forward(open.url, 'GET', '/api/companies/acme/audit', tokens.boss!);
    expect(reply).toMatchObject({ status: 403, headers: { 'x-castellan-reason': 'no route matches GET /api/companies/acme/audit' } });
    expect((await forward(open.url, 'PUT', scenarioUri('p1'), tokens.boss!)).status).toBe(403);
  });

  it('a path that several routes match is allowed only when every one of them allows it', async () => {
    // GET .../scenarios/new is the new-scenario form (create Scenario) and, to an upstream that routes
    // :id first, scenario "new" (view Scenario): Castellan cannot know which the upstream serves.
    const uri = '/api/companies/acme/projects/p1/scenarios/new';
    expect((await forward(open.url, 'POST', '/api/companies/acme/projects/p1/scenarios', tokens.maker!)).status).toBe(200);
    const maker = await forward(open.url, 'GET', uri, tokens.maker!);
    expect(maker).toMatchObject({ status: 403, headers: { 'x-castellan-reason': 'no rule allows view Scenario' } });
    const collab = await forward(open.url, 'GET', uri, tokens.collab!);
    expect(collab).toMatchObject({ status: 200, headers: { 'x-castellan-reason': 'role contributor on project p1 allows create Scenario' } });
  });

  it('a path value that is not an id is a deny, never a 400', async () => {
    const reply = await forward(open.url, 'GET', '/api/companies/acme/projects/p1/scenarios/s%20x', tokens.collab!);
    expect(reply.status).toBe(403);
    expect(reply.headers['x-castellan-reason']).toMatch(/resource\.id must be an id/);
    expect((await forward(open.url, 'GET', '/api/companies/acme/settings/logo', tokens.mgr!)).status).toBe(403);
  });

  it('no token, a malformed header, a bad or expired token: 401 with WWW-Authenticate: Bearer', async () => {
    const none = await forward(open.url, 'GET', scenarioUri('p1'), null);
    expect(none).toMatchObject({ status: 401, headers: { 'www-authenticate': 'Bearer' } });
    expect(JSON.parse(none.body).error.code).toBe('unauthenticated');
    const basic = await forward(open.url, 'GET', scenarioUri('p1'), null, { authorization: 'Basic YTpi' });
    expect(basic.status).toBe(401);
    expect(basic.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    const forged = await forward(open.url, 'GET', scenarioUri('p1'), await signToken('collab', {}, 'another-secret-that-is-also-32-characters'));
    expect(forged).toMatchObject({ status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token", error_description="token signature is invalid"' } });
    const expired = await forward(open.url, 'GET', scenarioUri('p1'), await signToken('collab', {}, undefined, '-2m'));
    expect(expired).toMatchObject({ status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token", error_description="token expired"' } });
  });

  it('an anonymous caller gets 401 before any route is looked at', async () => {
    expect((await forward(open.url, 'GET', '/no/such/route', null)).status).toBe(401);
  });

  it('reads the original request from X-Forwarded-*, else X-Original-*, else its own method and path (Envoy)', async () => {
    const auth = { authorization: `Bearer ${tokens.collab}` };
    const original = await raw(open.url, 'GET', '/v1/forward-auth', { ...auth, 'x-original-method': 'PATCH', 'x-original-uri': scenarioUri('p1') });
    expect(original.status).toBe(200);
    expect(original.headers['x-castellan-reason']).toBe('role contributor on project p1 allows edit Scenario');
    const both = await raw(open.url, 'GET', '/v1/forward-auth', { ...auth, 'x-forwarded-method': 'DELETE', 'x-original-method': 'GET', 'x-forwarded-uri': scenarioUri('p1'), 'x-original-uri': scenarioUri('p1') });
    expect(both.status).toBe(403);
    const own = await raw(open.url, 'PATCH', `/v1/forward-auth${scenarioUri('p1')}?draft=true`, auth);
    expect(own.status).toBe(200);
    expect(own.headers['x-castellan-reason']).toBe('role contributor on project p1 allows edit Scenario');
    const ownDenied = await raw(open.url, 'DELETE', `/v1/forward-auth${scenarioUri('p1')}`, auth);
    expect(ownDenied.status).toBe(403);
    const ownTraversal = await raw(open.url, 'GET', `/v1/forward-auth${scenarioUri('p2')}/../../../p1/scenarios/s-1`, auth);
    expect(ownTraversal.status).toBe(403);
  });

  it('the query string is not part of the match', async () => {
    expect((await forward(open.url, 'GET', `${scenarioUri('p1')}?next=/api/companies/acme/projects/p2`, tokens.collab!)).status).toBe(200);
  });

  it('a header sent twice (a client spoofing the gateway) matches nothing', async () => {
    const reply = await raw(open.url, 'GET', '/v1/forward-auth', {
      authorization: `Bearer ${tokens.collab}`,
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': [scenarioUri('p1'), scenarioUri('p2')] as unknown as string,
    });
    expect(reply.status).toBe(403);
  });

  it('a user id that is not visible ASCII travels percent-encoded in X-Castellan-User', async () => {
    const reply = await forward(open.url, 'GET', scenarioUri('p1'), await signToken(ODD_USER));
    expect(reply.status).toBe(200);
    expect(reply.headers['x-castellan-user']).toBe(encodeURIComponent(ODD_USER));
    expect(decodeURIComponent(reply.headers['x-castellan-user'] as string)).toBe(ODD_USER);
  });

  it('with CHECK_TOKEN, the gateway must send it as X-Castellan-Check-Token (Authorization carries the user)', async () => {
    const without = await forward(guarded.url, 'GET', scenarioUri('p1'), tokens.collab!);
    expect(without.status).toBe(403);
    expect(without.headers['x-castellan-reason']).toMatch(/x-castellan-check-token/);
    expect((await forward(guarded.url, 'GET', scenarioUri('p1'), tokens.collab!, { 'x-castellan-check-token': 'not-the-gateway-token-0000' })).status).toBe(403);
    expect((await forward(guarded.url, 'GET', scenarioUri('p1'), tokens.collab!, { 'x-castellan-check-token': CHECK_TOKEN })).status).toBe(200);
    // The check token in Authorization is not a user: the gateway's header is what counts.
    expect((await forward(guarded.url, 'GET', scenarioUri('p1'), CHECK_TOKEN, { 'x-castellan-check-token': CHECK_TOKEN })).status).toBe(401);
  });

  it('answers any method, without reading a body', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']) {
      const reply = await raw(open.url, method, '/v1/forward-auth', { authorization: `Bearer ${tokens.collab}`, 'x-forwarded-method': 'GET', 'x-forwarded-uri': scenarioUri('p1') });
      expect(reply.status, method).toBe(200);
    }
  });

  it('counts its decisions and latency beside the check API', async () => {
    const metrics = await raw(open.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/castellan_check_duration_seconds_count\{endpoint="forward_auth"\} [1-9]/);
  });
});

describe.skipIf(!servicesUp)('forward-auth when the store is away', () => {
  let env: TestEnvironment;
  let proxy: TcpProxy;
  let app: TestApp;

  beforeAll(async () => {
    env = await createTestEnvironment();
    proxy = await startTcpProxy('127.0.0.1', 5432);
    const url = new URL(env.database.url);
    url.port = String(proxy.port);
    app = await startApp({ ...env.env, DATABASE_URL: url.toString() });
    await seedCompany(app.app.store.db, app.app.policies, {
      id: 'acme',
      members: [{ id: 'cached', role: 'admin', owner: true }, { id: 'cold', role: 'admin' }],
      projects: ['p1'],
    });
  });
  afterAll(async () => {
    await app?.close().catch(() => {});
    await proxy?.close();
    await env?.close();
  });

  it('answers 503 when no decision can be taken, never an allow; cached principals are still answered', async () => {
    const uri = '/api/companies/acme/projects/p1';
    expect((await forward(app.url, 'GET', uri, await signToken('cached'))).status).toBe(200);
    await proxy.cut();
    const cold = await forward(app.url, 'GET', uri, await signToken('cold'));
    expect(cold.status).toBe(503);
    expect(JSON.parse(cold.body).error.code).toBe('unavailable');
    expect((await forward(app.url, 'GET', uri, await signToken('cached'))).status).toBe(200);
    await proxy.restore();
  });
});
