import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, signToken, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

/**
 * User ids are the identity provider's `sub` (API.md, Conventions): any 1-255 characters
 * without control characters, percent-encoded in paths. Written from the contract, not
 * from the code: `.` and `..` are left out because no URL can carry them as a path
 * segment (WHATWG URLs resolve them, percent-encoded or not), and `local:`/`invite:` are
 * Castellan's own (README, Authentication).
 */
function acceptableSub(sub: string): boolean {
  const length = [...sub].length;
  return (
    length >= 1 &&
    length <= 255 &&
    !/\p{Cc}/u.test(sub) &&
    sub !== '.' &&
    sub !== '..' &&
    !sub.startsWith('local:') &&
    !sub.startsWith('invite:')
  );
}

/** Characters that are awkward somewhere: URLs, keys, logs, SQL, case folding, rendering. */
const awkward = fc.constantFrom(
  '|', ' ', ':', '/', '%', '%2F', '?', '#', '@', '.', '+', '&', '=', '\\', '"', "'", '<', '>', '~', ';', ',', '*',
  '\u212A', 'é', 'e\u0301', 'Ω', '日本', '\u{1F600}', '\u202E', '\u200B', '\uFEFF', '\u2028',
  '\u0000', '\t', '\n', '\u001F', '\u007F', '\u0085', '\u009F',
);
const piece = fc.oneof(awkward, fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'grapheme-ascii', maxLength: 12 }));
const subs = fc.oneof(
  { weight: 8, arbitrary: fc.array(piece, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('')) },
  { weight: 1, arbitrary: fc.constantFrom('auth0|zed', 'google-oauth2|1234', 'a b', 'ada@acme.test', '.', '..', '...', '', 'local:x', 'invite:x') },
  // Around the length limit, which counts characters (code points), not UTF-16 units.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 253, max: 257 }), fc.constantFrom('a', 'é', '\u{1F600}')).map(([n, c]) => c.repeat(n)) },
);

describe.skipIf(!servicesUp)('user ids are whatever the identity provider says (API.md: any 1-255 characters without control characters)', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let olga: AdminClient;
  let companies = 0;

  const path = (sub: string) => encodeURIComponent(sub);
  const tokenOf = (sub: string, email: string) => signToken(sub, { email, email_verified: true });
  const check = (company: string, principal: Record<string, string>, resource: Record<string, unknown>, minVersion?: string) =>
    api(app.url, 'POST', '/v1/check', { company, principal, action: 'view', resource, ...(minVersion ? { consistency: { minVersion } } : {}) });

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    olga = adminClient(app.url, 'olga');
  });
  afterAll(() => env?.close());

  /** A company of its own, so a run that fails half-way leaves nothing behind for the next. */
  async function freshCompany(): Promise<string> {
    companies += 1;
    const id = `uid-${companies}`;
    await createCompany(olga, id);
    return id;
  }

  /**
   * Everything the admin and check APIs do with one user id, as that user and as their
   * admin: invited, accepted, checked (by token and by id), patched, put in a team, made a
   * project's creator, granted, read back, audited, and removed. Returns false when the
   * token verifier refused the sub (401), true when the whole walk succeeded.
   */
  async function walk(sub: string): Promise<boolean> {
    const c = await freshCompany();
    const email = `user-${companies}@example.test`;
    const user = adminClient(app.url, sub, email, await tokenOf(sub, email));
    const enc = path(sub);
    const ok = (response: { status: number; body: unknown }, status: number, step: string) =>
      expect(response.status, `${step}: ${JSON.stringify(response.body)}`).toBe(status);

    ok(await olga.post(`/v1/companies/${c}/invitations`, { email, role: 'collaborator', applicationAccess: true }), 201, 'invite');
    const accepted = await user.post(`/v1/companies/${c}/invitations/accept`);
    if (accepted.status === 401) {
      expect(accepted.body.error.code).toBe('unauthenticated');
      return false;
    }
    ok(accepted, 200, 'accept');
    expect(accepted.body).toMatchObject({ userId: sub, status: 'active' });

    const byToken = await check(c, { token: await tokenOf(sub, email) }, { type: 'Project', id: 'p' });
    ok(byToken, 200, 'check by token');
    expect(byToken.body.allowed).toBe(false);
    ok(await check(c, { id: sub }, { type: 'Project', id: 'p' }), 200, 'check by id');

    const patched = await olga.patch(`/v1/companies/${c}/members/${enc}`, { role: 'editor' });
    ok(patched, 200, 'patch');
    expect(patched.body).toMatchObject({ userId: sub, role: 'editor' });

    ok(await olga.post(`/v1/companies/${c}/teams`, { id: 't', name: 'T' }), 201, 'team');
    const placed = await olga.put(`/v1/companies/${c}/teams/t/members/${enc}`);
    ok(placed, 200, 'team member');
    expect(placed.body.members).toEqual([sub]);

    const registered = await olga.put(`/v1/companies/${c}/projects/p`, { name: 'P', creatorId: sub });
    ok(registered, 201, 'project with creatorId');
    expect(registered.body.createdBy).toBe(sub);
    const granted = await olga.put(`/v1/companies/${c}/projects/p/members/users/${enc}`, { role: 'viewer' });
    ok(granted, 200, 'grant');
    expect(granted.body).toMatchObject({ userId: sub, role: 'viewer' });
    const scenario = await check(c, { id: sub }, { type: 'Scenario', attributes: { projectId: 'p' } }, granted.body.version);
    ok(scenario, 200, 'check after grant');
    expect(scenario.body.allowed).toBe(true);
    // Again by token: the check path's caches now hold this user (L1, and L2 in Redis).
    expect((await check(c, { token: await tokenOf(sub, email) }, { type: 'Scenario', attributes: { projectId: 'p' } })).body.allowed).toBe(true);
    const rules = await api(app.url, 'GET', `/v1/companies/${c}/principals/${enc}/rules`);
    ok(rules, 200, 'rules');
    expect(rules.body.rules.length).toBeGreaterThan(0);

    expect((await olga.get(`/v1/companies/${c}/members/${enc}`)).body).toMatchObject({ userId: sub, role: 'editor' });
    expect((await olga.get(`/v1/companies/${c}/projects/p/members`)).body.users).toEqual([{ userId: sub, role: 'viewer' }]);
    const audit = await olga.get(`/v1/companies/${c}/audit?limit=500`);
    const targets = audit.body.entries.map((e: { target: string }) => e.target);
    expect(targets).toEqual(expect.arrayContaining([`member:${sub}`, `team:t/user:${sub}`, `grant:p/user:${sub}`]));

    ok(await olga.delete(`/v1/companies/${c}/projects/p/members/users/${enc}`), 200, 'revoke');
    ok(await olga.delete(`/v1/companies/${c}/teams/t/members/${enc}`), 200, 'team member removed');
    const removed = await olga.delete(`/v1/companies/${c}/members/${enc}`);
    ok(removed, 200, 'remove');
    ok(await olga.get(`/v1/companies/${c}/members/${enc}`), 404, 'gone');
    const after = await check(c, { id: sub }, { type: 'Project', id: 'p' }, removed.body.version);
    ok(after, 200, 'check after removal');
    expect(after.body.allowed).toBe(false);
    return true;
  }

  it("an Auth0-style sub (auth0|zed) is invited, checked, patched, teamed, granted, given ownership and removed", async () => {
    expect(await walk('auth0|zed')).toBe(true);

    // Ownership names a user id in a body, and the new owner acts with their own token.
    const c = await freshCompany();
    const sub = 'google-oauth2|1234 5';
    const email = `owner-${c}@example.test`;
    const heir = adminClient(app.url, sub, email, await tokenOf(sub, email));
    expect((await olga.post(`/v1/companies/${c}/invitations`, { email, role: 'admin' })).status).toBe(201);
    expect((await heir.post(`/v1/companies/${c}/invitations/accept`)).status).toBe(200);
    const handed = await olga.post(`/v1/companies/${c}/ownership`, { userId: sub });
    expect(handed.status, JSON.stringify(handed.body)).toBe(200);
    expect(handed.body.owner).toBe(sub);
    expect((await heir.post(`/v1/companies/${c}/ownership`, { userId: 'olga' })).status).toBe(200);
    expect((await olga.delete(`/v1/companies/${c}/members/${path(sub)}`)).status).toBe(200);
  });

  it('property: any sub the token verifier accepts can be invited, checked, patched, put in a team, granted and removed', async () => {
    await fc.assert(
      fc.asyncProperty(subs, async (sub) => {
        const walked = await walk(sub);
        // The verifier refuses exactly the subs outside the contract.
        expect(walked, JSON.stringify(sub)).toBe(acceptableSub(sub));
      }),
      { numRuns: 30 },
    );
  }, 240_000);

  it('user ids outside the contract are 400 invalid_request wherever they appear, never 500', async () => {
    const c = await freshCompany();
    const cases: Array<[string, string, unknown, string]> = [
      ['GET', `/v1/companies/${c}/members/a%00b`, undefined, 'userId'],
      ['PATCH', `/v1/companies/${c}/members/${'x'.repeat(256)}`, { role: 'editor' }, 'userId'],
      ['DELETE', `/v1/companies/${c}/members/tab%09here`, undefined, 'userId'],
      ['PUT', `/v1/companies/${c}/teams/t/members/%7F`, undefined, 'userId'],
      ['PUT', `/v1/companies/${c}/projects/p/members/users/%C2%85`, { role: 'viewer' }, 'userId'],
      ['POST', `/v1/companies/${c}/ownership`, { userId: 'a\u0000b' }, 'userId'],
      ['POST', `/v1/companies/${c}/ownership`, { userId: '' }, 'userId'],
      ['PUT', `/v1/companies/${c}/projects/p`, { name: 'P', creatorId: '\ud800' }, 'creatorId'],
    ];
    for (const [method, url, body, at] of cases) {
      const response = await api(app.url, method, url, body, { authorization: `Bearer ${await signToken('olga')}` });
      expect(response.status, `${method} ${url} ${JSON.stringify(response.body)}`).toBe(400);
      expect(response.body.error).toMatchObject({ code: 'invalid_request', details: { path: at } });
    }
    const rules = await api(app.url, 'GET', `/v1/companies/${c}/principals/a%00b/rules`);
    expect(rules.status).toBe(400);
    // Percent-encoding that is not UTF-8 (a stray byte, a cut sequence, an encoded lone surrogate) names no user.
    for (const bad of ['%FF', 'a%E0%A4%A', '%ED%A0%80', '%']) {
      for (const [method, url] of [['GET', `/v1/companies/${c}/members/${bad}`], ['GET', `/v1/companies/${c}/principals/${bad}/rules`]] as const) {
        const response = await api(app.url, method, url, undefined, { authorization: `Bearer ${await signToken('olga')}` });
        expect(response.status, url).toBe(400);
        expect(response.body.error.code).toBe('invalid_request');
      }
    }
    for (const id of ['a\u0000b', 'x'.repeat(256), '\ud800x', '']) {
      const response = await check(c, { id }, { type: 'Project', id: 'p' });
      expect(response.status, JSON.stringify(id)).toBe(400);
      expect(response.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'principal.id' } });
    }
  });

  it('company, team, project and role ids keep the narrow set', async () => {
    const c = await freshCompany();
    const token = { authorization: `Bearer ${await signToken('olga')}` };
    for (const [method, url, body, at] of [
      ['GET', '/v1/companies/a%7Cb/members', undefined, 'company'],
      ['PUT', `/v1/companies/${c}/teams/a%7Cb/members/olga`, undefined, 'teamId'],
      ['PUT', `/v1/companies/${c}/projects/a%20b`, { name: 'P' }, 'projectId'],
      ['PUT', `/v1/companies/${c}/roles/project/a%7Cb`, { name: 'R', permissions: [] }, 'key'],
      ['POST', `/v1/companies/${c}/teams`, { id: 'a|b', name: 'T' }, 'id'],
    ] as const) {
      const response = await api(app.url, method, url, body, token);
      expect(response.status, `${method} ${url}`).toBe(400);
      expect(response.body.error).toMatchObject({ code: 'invalid_request', details: { path: at } });
    }
    const response = await check('a|b', { id: 'olga' }, { type: 'Project', id: 'p' });
    expect(response.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'company' } });
    expect((await check(c, { id: 'olga' }, { type: 'Project', id: 'a|b' })).body.error).toMatchObject({ details: { path: 'resource.id' } });
  });
});
