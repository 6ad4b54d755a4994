import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient } from '../support/admin.js';
import { api, createTestEnvironment, signToken, TEST_JWT_SECRET, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedCompany } from './seed.js';

// A user's own token on the check API when CHECK_TOKEN is configured (src/check/self-check.ts):
// it may ask about that user only. Every refusal is the check token's own 401.

const CHECK_TOKEN = 'self-check-token-0123456789';
const service = { authorization: `Bearer ${CHECK_TOKEN}` };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const question = { action: 'view', resource: { type: 'Project', id: 'p1' } };
const REFUSED = { code: 'unauthenticated', message: 'a valid check token is required (Authorization: Bearer <CHECK_TOKEN>)', details: { credential: 'check_token' } };

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe.skipIf(!servicesUp)('the check API answers a user about themself with their own token', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let collab: string;
  let localId: string;
  let localToken: string;

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start({ CHECK_TOKEN });
    for (const id of ['acme', 'globex']) {
      await seedCompany(app.app.store.db, app.app.policies, {
        id,
        members: [
          { id: 'collab', role: 'collaborator', applicationAccess: true },
          { id: 'admin', role: 'admin', owner: true },
        ],
        projects: ['p1', 'p2'],
        grants: id === 'acme' ? [{ project: 'p1', role: 'contributor', user: 'collab' }] : [],
      });
    }
    collab = await signToken('collab');
    const created = await adminClient(app.url, 'admin').post('/v1/companies/acme/local-users', {
      login: 'lou',
      password: 'long enough password',
      firstName: 'Lou',
      lastName: 'Cal',
      role: 'collaborator',
      applicationAccess: true,
    });
    expect(created.status).toBe(201);
    localId = created.body.userId;
    const login = await api(app.url, 'POST', '/v1/auth/token', { company: 'acme', login: 'lou', password: 'long enough password' });
    expect(login.status).toBe(200);
    localToken = login.body.accessToken;
  });
  afterAll(() => env?.close());

  async function expectRefused(path: string, body: unknown, headers: Record<string, string>, method = 'POST') {
    const response = await api(app.url, method, path, body, headers);
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ error: REFUSED });
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  }

  describe('about oneself: the same answer as with the check token', () => {
    it('principal.id equal to the token subject', async () => {
      const body = { company: 'acme', principal: { id: 'collab' }, ...question };
      const own = await api(app.url, 'POST', '/v1/check', body, bearer(collab));
      const asService = await api(app.url, 'POST', '/v1/check', body, service);
      expect(own).toMatchObject({ status: 200, body: { allowed: true, reason: 'project membership on project p1 allows view Project' } });
      expect(own.body).toEqual(asService.body);
    });

    it('principal.token: the same token, or another token of the same user', async () => {
      const other = await signToken('collab', { email: 'collab@example.test', email_verified: true });
      for (const token of [collab, other]) {
        const response = await api(app.url, 'POST', '/v1/check/batch', { company: 'acme', principal: { token }, checks: [question, { ...question, resource: { type: 'Project', id: 'p2' } }] }, bearer(collab));
        expect(response.status).toBe(200);
        expect(response.body.results.map((r: { allowed: boolean }) => r.allowed)).toEqual([true, false]);
      }
    });

    it('a local user in the company their token was issued for', async () => {
      const response = await api(app.url, 'POST', '/v1/check', { company: 'acme', principal: { id: localId }, action: 'use', resource: { type: 'Application' } }, bearer(localToken));
      expect(response).toMatchObject({ status: 200, body: { allowed: true, reason: 'application access allows use Application' } });
    });

    it('in another company the platform user belongs to', async () => {
      const response = await api(app.url, 'POST', '/v1/check', { company: 'globex', principal: { id: 'collab' }, ...question }, bearer(collab));
      expect(response).toMatchObject({ status: 200, body: { allowed: false } });
    });

    it('rules and accessible about oneself', async () => {
      const rules = await api(app.url, 'GET', '/v1/companies/acme/principals/collab/rules', undefined, bearer(collab));
      expect(rules.status).toBe(200);
      expect(rules.body.rules).toContainEqual(expect.objectContaining({ action: 'view', subject: 'Project' }));
      const accessible = await api(app.url, 'POST', '/v1/accessible', { company: 'acme', principal: { id: 'collab' }, action: 'view', resourceType: 'Project' }, bearer(collab));
      expect(accessible.body).toMatchObject({ kind: 'some', ids: ['p1'] });
      const localRules = await api(app.url, 'GET', `/v1/companies/acme/principals/${encodeURIComponent(localId)}/rules`, undefined, bearer(localToken));
      expect(localRules.status).toBe(200);
    });
  });

  describe('anything else is the check token 401', () => {
    it("user A's token asking about user B, by id or by B's token", async () => {
      await expectRefused('/v1/check', { company: 'acme', principal: { id: 'admin' }, ...question }, bearer(collab));
      await expectRefused('/v1/check', { company: 'acme', principal: { token: await signToken('admin') }, ...question }, bearer(collab));
      await expectRefused('/v1/check/batch', { company: 'acme', principal: { id: 'admin' }, checks: [question] }, bearer(collab));
    });

    it("a local user's token asking in another company, about the same user id", async () => {
      await expectRefused('/v1/check', { company: 'globex', principal: { id: localId }, action: 'use', resource: { type: 'Application' } }, bearer(localToken));
      await expectRefused('/v1/check', { company: 'globex', principal: { token: localToken }, action: 'use', resource: { type: 'Application' } }, bearer(localToken));
      await expectRefused(`/v1/companies/globex/principals/${encodeURIComponent(localId)}/rules`, undefined, bearer(localToken), 'GET');
    });

    it('an expired token, a token signed with another key, and alg none', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('collab').setIssuedAt(now - 600).setExpirationTime(now - 120).sign(new TextEncoder().encode(TEST_JWT_SECRET));
      const forged = await signToken('collab', {}, 'another-secret-that-is-at-least-32-characters');
      const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'collab', exp: now + 600 })}.`;
      for (const token of [expired, forged, none]) {
        await expectRefused('/v1/check', { company: 'acme', principal: { id: 'collab' }, ...question }, bearer(token));
        // Naming the bad token as the principal too changes nothing.
        await expectRefused('/v1/check', { company: 'acme', principal: { token }, ...question }, bearer(token));
      }
    });

    it('a batch cannot mix in another principal: items take none, and a repeated key is read once, as the service reads it', async () => {
      const mixed = await api(app.url, 'POST', '/v1/check/batch', { company: 'acme', principal: { id: 'collab' }, checks: [question, { ...question, principal: { id: 'admin' } }] }, bearer(collab));
      expect(mixed.status).toBe(400);
      expect(mixed.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'checks.1.principal' } });
      // JSON.parse keeps the last of repeated keys: the guard must judge the principal the service will answer for.
      const repeated = `{"company":"acme","principal":{"id":"collab"},"principal":{"id":"admin"},"checks":[${JSON.stringify(question)}]}`;
      await expectRefused('/v1/check/batch', repeated, bearer(collab));
    });

    it('a principal with both id and token, or an id of another case, is not the token user', async () => {
      await expectRefused('/v1/check', { company: 'acme', principal: { id: 'collab', token: collab }, ...question }, bearer(collab));
      await expectRefused('/v1/check', { company: 'acme', principal: { id: 'Collab' }, ...question }, bearer(collab));
    });

    it('a body the guard cannot read is refused before validation', async () => {
      await expectRefused('/v1/check', '{"company": ', bearer(collab));
      await expectRefused('/v1/check', [1, 2], bearer(collab));
    });

    it('rules and accessible about someone else', async () => {
      await expectRefused('/v1/companies/acme/principals/admin/rules', undefined, bearer(collab), 'GET');
      await expectRefused('/v1/accessible', { company: 'acme', principal: { id: 'admin' }, action: 'view', resourceType: 'Project' }, bearer(collab));
    });

    it('/metrics and AuthZEN stay with the check token only', async () => {
      const metrics = await fetch(`${app.url}/metrics`, { headers: bearer(collab) });
      expect(metrics.status).toBe(401);
      const evaluation = await api(
        app.url,
        'POST',
        '/authzen/acme/access/v1/evaluation',
        { subject: { type: 'user', id: 'collab' }, action: { name: 'view' }, resource: { type: 'Project', id: 'p1' } },
        bearer(collab),
      );
      expect(evaluation.status).toBe(401);
    });

    it('the check token still answers about anyone', async () => {
      const response = await api(app.url, 'POST', '/v1/check', { company: 'acme', principal: { id: 'admin' }, ...question }, service);
      expect(response).toMatchObject({ status: 200, body: { allowed: true } });
    });
  });
});
