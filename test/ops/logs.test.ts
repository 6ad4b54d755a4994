import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCastellan, type Castellan } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { signToken, TEST_JWT_SECRET } from '../support/app.js';
import { createTestDatabase, servicesUp, TEST_REDIS_URL, uniqueName, type TestDatabase } from '../support/services.js';

const CHECK_TOKEN = 'log-test-check-token-5f0c2a9e71';
const PASSWORD = 'Corr3ct-horse-battery-staple-41';
const WRONG_PASSWORD = 'Wr0ng-horse-battery-staple-97';
const SECOND_PASSWORD = 'An0ther-long-password-for-ada-58';
const SHORT_PASSWORD = 'sh0rt-pw-29';
const WRONG_CHECK_TOKEN = 'not-the-check-token-8d41e6b2c0';
const OPERATOR_TOKEN = 'log-test-operator-token-3b9e77d01c4a62f5';
const WRONG_OPERATOR_TOKEN = 'not-the-operator-token-6f20c9a84e13b7d5';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Reply {
  status: number;
  body: any;
  requestId: string | null;
}

interface LogLine {
  level: string;
  time: string;
  service: string;
  msg: string;
  requestId?: string;
  method?: string;
  route?: string;
  path?: string;
  status?: number;
  durationMs?: number;
  [key: string]: unknown;
}

describe.skipIf(!servicesUp)('logs', () => {
  let database: TestDatabase;
  let app: Castellan;
  let url: string;
  let output = '';
  /** Every secret the flow uses: none may appear anywhere in the log output. */
  const secrets = new Set<string>([TEST_JWT_SECRET, CHECK_TOKEN, PASSWORD, WRONG_PASSWORD, SECOND_PASSWORD, SHORT_PASSWORD, WRONG_CHECK_TOKEN, OPERATOR_TOKEN, WRONG_OPERATOR_TOKEN]);
  const replies: Array<Reply & { method: string; path: string }> = [];

  /** A token is also secret in part: its signature alone must not leak either. */
  function keepSecret(token: string): string {
    secrets.add(token);
    const signature = token.split('.')[2];
    if (signature) secrets.add(signature);
    return token;
  }

  async function call(method: string, path: string, options: { body?: unknown; raw?: string; bearer?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
    let body: string | undefined;
    if (options.body !== undefined || options.raw !== undefined) {
      body = options.raw ?? JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${url}${path}`, { method, headers, body });
    const text = await response.text();
    const json = response.headers.get('content-type')?.startsWith('application/json');
    const reply = { status: response.status, body: json ? JSON.parse(text) : text, requestId: response.headers.get('x-request-id') };
    replies.push({ ...reply, method, path });
    return reply;
  }

  const lines = (): LogLine[] =>
    output
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogLine);
  const accessLines = () => lines().filter((l) => l.msg === 'request');

  beforeAll(async () => {
    database = await createTestDatabase();
    const config = loadConfig({
      PORT: '0',
      LOG_LEVEL: 'trace',
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `${uniqueName('logs')}:`,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      CHECK_TOKEN,
      OPERATOR_TOKEN,
    });
    const logger = createLogger(config.LOG_LEVEL, { write: (chunk: string) => void (output += chunk) });
    app = await createCastellan(config, { logger });
    url = await app.listen();
  });
  afterAll(async () => {
    await app?.close().catch(() => {});
    await database?.drop();
  });

  describe('a full admin flow, with failures, then the store going away', () => {
    let owner: string;
    let ada: string;

    beforeAll(async () => {
      owner = keepSecret(await signToken('log-owner', { email: 'owner@example.test' }));
      const company = await call('POST', '/v1/companies', {
        bearer: owner,
        body: { id: 'acme', name: 'Acme', plan: { name: 'business', userLicenses: 10, developerLicenses: 2 } },
        headers: { 'x-request-id': 'flow-create-company', 'x-castellan-operator-token': OPERATOR_TOKEN },
      });
      expect(company.status).toBe(201);
      // The billing side, with a wrong operator token and then the right one.
      const subscription = { plan: 'business', userLicenses: 11, developerLicenses: 2 };
      expect((await call('PUT', '/v1/companies/acme/subscription', { body: subscription, headers: { 'x-castellan-operator-token': WRONG_OPERATOR_TOKEN } })).status).toBe(401);
      expect((await call('PUT', '/v1/companies/acme/subscription', { body: subscription, headers: { 'x-castellan-operator-token': OPERATOR_TOKEN } })).status).toBe(200);

      const created = await call('POST', '/v1/companies/acme/local-users', {
        bearer: owner,
        // A manager: local users are never admins (D3), and a manager may list members.
        body: { login: 'ada', password: PASSWORD, firstName: 'Ada', lastName: 'Lovelace', role: 'manager' },
      });
      expect(created.status).toBe(201);
      const login = await call('POST', '/v1/auth/token', { body: { company: 'acme', login: 'ada', password: PASSWORD } });
      expect(login.status).toBe(200);
      ada = keepSecret(login.body.accessToken);

      // The local user works the admin API and the check API with its token.
      expect((await call('GET', '/v1/companies/acme/members', { bearer: ada })).status).toBe(200);
      const check = { company: 'acme', principal: { token: ada }, action: 'view', resource: { type: 'Project', id: 'p1' } };
      expect((await call('POST', '/v1/check', { bearer: CHECK_TOKEN, body: check, headers: { 'x-request-id': 'flow-check' } })).status).toBe(200);
      const batch = { company: 'acme', principal: { token: ada }, checks: [{ action: 'view', resource: { type: 'Project', id: 'p1' } }] };
      expect((await call('POST', '/v1/check/batch', { bearer: CHECK_TOKEN, body: batch })).status).toBe(200);
      const accessible = { company: 'acme', principal: { token: ada }, action: 'view', resourceType: 'Project' };
      expect((await call('POST', '/v1/accessible', { bearer: CHECK_TOKEN, body: accessible })).status).toBe(200);
      expect((await call('GET', '/metrics', { bearer: CHECK_TOKEN })).status).toBe(200);

      // Failures: wrong password, a broken body holding the password, short and duplicate passwords.
      expect((await call('POST', '/v1/auth/token', { body: { company: 'acme', login: 'ada', password: WRONG_PASSWORD } })).status).toBe(401);
      expect((await call('POST', '/v1/auth/token', { raw: `{"company":"acme","login":"ada","password":"${PASSWORD}"` })).status).toBe(400);
      const localUser = (login: string, password: string) => ({ login, password, firstName: 'B', lastName: 'C', role: 'editor' });
      expect((await call('POST', '/v1/companies/acme/local-users', { bearer: owner, body: localUser('bob', SHORT_PASSWORD) })).status).toBe(400);
      expect((await call('POST', '/v1/companies/acme/local-users', { bearer: owner, body: localUser('ada', SECOND_PASSWORD) })).status).toBe(409);

      // Failures: bad tokens of every kind, on the admin API and as a check principal.
      const badTokens = [
        keepSecret(`${ada.slice(0, -4)}AAAA`),
        keepSecret(await signToken('log-owner', {}, 'a-different-secret-of-at-least-32-characters')),
        keepSecret(await signToken('log-owner', {}, TEST_JWT_SECRET, '-1h')),
        keepSecret('not.a-jwt.at-all-9c1d7e'),
      ];
      for (const bad of badTokens) {
        expect((await call('GET', '/v1/companies/acme/members', { bearer: bad })).status).toBe(401);
        expect((await call('POST', '/v1/check', { bearer: CHECK_TOKEN, body: { ...check, principal: { token: bad } } })).status).toBe(401);
      }
      expect((await call('POST', '/v1/check', { bearer: WRONG_CHECK_TOKEN, body: check })).status).toBe(401);
      expect((await call('GET', '/metrics', { bearer: WRONG_CHECK_TOKEN })).status).toBe(401);

      // PostgreSQL goes away: the error paths log their errors, still without secrets.
      await app.store.close();
      expect((await call('POST', '/v1/auth/token', { body: { company: 'acme', login: 'ada', password: PASSWORD } })).status).toBe(503);
      expect((await call('GET', '/v1/companies/acme/members', { bearer: ada })).status).toBeGreaterThanOrEqual(500);
      expect((await call('POST', '/v1/companies/acme/local-users', { bearer: owner, body: localUser('carol', SECOND_PASSWORD) })).status).toBeGreaterThanOrEqual(500);
    });

    it('logs no password, token, token signature, check token or JWT secret, anywhere', () => {
      expect(output.length).toBeGreaterThan(0);
      for (const secret of secrets) expect(output.includes(secret), `the log output holds ${secret.slice(0, 12)}...`).toBe(false);
    });

    it('every line is one JSON object with a level name, an ISO time and the service', () => {
      for (const line of lines()) {
        expect(line).toMatchObject({ level: expect.stringMatching(/^(trace|debug|info|warn|error|fatal)$/), service: 'castellan', msg: expect.any(String) });
        expect(new Date(line.time).toISOString()).toBe(line.time);
      }
      // The failure paths did log something: the test is not passing on an empty log.
      expect(lines().some((l) => l.level === 'warn' || l.level === 'error')).toBe(true);
    });

    it('answers every request with a request id, and logs one info access line per admin request under that id', () => {
      const express = replies.filter((r) => !r.path.startsWith('/v1/check'));
      for (const reply of express) {
        const matching = accessLines().filter((l) => l.requestId === reply.requestId);
        expect(matching, `${reply.method} ${reply.path}`).toHaveLength(1);
        expect(matching[0]).toMatchObject({ method: reply.method, path: reply.path, status: reply.status, durationMs: expect.any(Number) });
        expect(matching[0]!.level).toBe(reply.path === '/metrics' ? 'debug' : 'info');
      }
      expect(new Set(replies.map((r) => r.requestId)).size).toBe(replies.length);
    });

    it('names the route pattern in access lines, and never the query string', () => {
      const members = accessLines().find((l) => l.path === '/v1/companies/acme/members' && l.status === 200);
      expect(members).toMatchObject({ route: '/v1/companies/:company/members', method: 'GET' });
      expect(accessLines().every((l) => !String(l.path).includes('?'))).toBe(true);
    });

    it('keeps the caller’s x-request-id and generates one otherwise, on the check API too', () => {
      expect(replies[0]!.requestId).toBe('flow-create-company');
      expect(accessLines().find((l) => l.requestId === 'flow-create-company')).toMatchObject({ route: '/v1/companies', status: 201 });
      expect(replies.find((r) => r.path === '/v1/check')!.requestId).toBe('flow-check');
      for (const reply of replies.slice(1).filter((r) => r.requestId !== 'flow-check')) expect(reply.requestId).toMatch(UUID);
    });

    it('writes no access line for checks at info: the hot path stays quiet', () => {
      expect(lines().filter((l) => l.level === 'info' && String(l.path ?? '').startsWith('/v1/check'))).toEqual([]);
    });

    it('puts the request id on the error lines of the failing requests', () => {
      const failed = lines().filter((l) => l.msg === 'request failed');
      expect(failed.length).toBeGreaterThan(0);
      const ids = new Set(replies.filter((r) => r.status >= 500).map((r) => r.requestId));
      for (const line of failed) expect(ids.has(line.requestId!)).toBe(true);
    });
  });

  describe('request ids that are not safe to echo are replaced', () => {
    const cases: Array<[string, string]> = [
      ['too long', 'x'.repeat(129)],
      ['with spaces', 'id with spaces'],
      ['with quotes', 'id"quoted"'],
      ['with a non-ASCII character', 'id-é'],
    ];
    for (const [name, id] of cases) {
      it(name, async () => {
        for (const path of ['/healthz', '/v1/check']) {
          const response = await fetch(`${url}${path}`, { method: path === '/healthz' ? 'GET' : 'POST', headers: { 'x-request-id': id } });
          await response.arrayBuffer();
          expect(response.headers.get('x-request-id')).toMatch(UUID);
        }
      });
    }

    it('keeps a 128-character id of safe characters', async () => {
      const id = `a1._:+=/@-${'z'.repeat(118)}`;
      const response = await fetch(`${url}/healthz`, { headers: { 'x-request-id': id } });
      expect(response.headers.get('x-request-id')).toBe(id);
    });
  });
});
