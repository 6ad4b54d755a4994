import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FAILED_ATTEMPTS, LOCK_MS } from '../../src/auth/lockout.js';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedCompany } from '../check/seed.js';
import { checkWithToken, seedLocalUser, unauthenticated, type LocalUser } from './support.js';

const invalid = unauthenticated('invalid login or password');

describe.skipIf(!servicesUp)('local users: POST /v1/auth/token', () => {
  let env: TestEnvironment;
  let instance: TestApp;
  let other: TestApp;
  let ada: LocalUser;

  const login = (body: unknown, url = instance.url) => api(url, 'POST', '/v1/auth/token', body);
  const credentialsOf = (user: LocalUser) =>
    instance.app.store.db.selectFrom('local_credentials').select(['failed_attempts', 'locked_until']).where('user_id', '=', user.id).executeTakeFirstOrThrow();

  beforeAll(async () => {
    env = await createTestEnvironment();
    instance = await env.start();
    other = await env.start();
    await seedCompany(instance.app.store.db, instance.app.policies, { id: 'acme', members: [], projects: ['p1'] });
    await seedCompany(instance.app.store.db, instance.app.policies, { id: 'globex', members: [], projects: ['p1'] });
    ada = await seedLocalUser(instance.app.store.db, 'acme', 'ada');
  });
  afterAll(() => env?.close());

  describe('the whole flow', () => {
    let token: string;

    it('logs in and answers a 15-minute ES256 token for the user', async () => {
      const response = await login({ company: 'acme', login: 'ada', password: ada.password });
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.body).toEqual({ accessToken: expect.any(String), expiresIn: 900, tokenType: 'Bearer' });
      token = response.body.accessToken;
      expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', kid: expect.any(String), typ: 'JWT' });
      const claims = decodeJwt(token);
      expect(claims).toMatchObject({ sub: ada.id, company: 'acme', iss: 'castellan', aud: 'castellan' });
      expect(claims.exp! - claims.iat!).toBe(900);
    });

    it('the token gets a decision for that user from the check API, on any instance', async () => {
      for (const url of [instance.url, other.url]) {
        const response = await checkWithToken(url, token);
        expect(response.status).toBe(200);
        expect(response.body).toMatchObject({ allowed: true });
      }
      // The same user asking about a project without a grant: a decision, not an error.
      const denied = await api(instance.url, 'POST', '/v1/check', { company: 'acme', principal: { token }, action: 'edit', resource: { type: 'Project', id: 'p1' } });
      expect(denied).toMatchObject({ status: 200, body: { allowed: false } });
    });

    it('the JWKS endpoint publishes the key, and stock jose verifies the token with it', async () => {
      const response = await api(instance.url, 'GET', '/.well-known/jwks.json');
      expect(response.status).toBe(200);
      const keys: JWK[] = response.body.keys;
      expect(keys).toHaveLength(1);
      expect(keys[0]).toEqual({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: decodeProtectedHeader(token).kid, alg: 'ES256', use: 'sig' });
      expect(keys[0]).not.toHaveProperty('d');
      const { payload } = await jwtVerify(token, createLocalJWKSet(response.body), { issuer: 'castellan', audience: 'castellan' });
      expect(payload.sub).toBe(ada.id);
      expect((await api(other.url, 'GET', '/.well-known/jwks.json')).body).toEqual(response.body);
    });

    it('refuses a tampered token', async () => {
      const [header, , signature] = token.split('.');
      const forged = Buffer.from(JSON.stringify({ ...decodeJwt(token), sub: 'local:someone-else' })).toString('base64url');
      expect(await checkWithToken(instance.url, `${header}.${forged}.${signature}`)).toMatchObject({ status: 401, body: unauthenticated('token signature is invalid') });
    });

    it('refuses tokens signed with the stored key but breaking the rules for own tokens', async () => {
      const row = await instance.app.store.db.selectFrom('signing_keys').select(['kid', 'private_jwk']).executeTakeFirstOrThrow();
      const key = await importJWK(row.private_jwk as JWK, 'ES256');
      const own = (sub: string, exp: number, kid = row.kid) =>
        new SignJWT({ company: 'acme' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer('castellan').setAudience('castellan').setSubject(sub).setExpirationTime(exp).sign(key);
      const now = Math.floor(Date.now() / 1000);
      expect(await checkWithToken(instance.url, await own(ada.id, now - 60))).toMatchObject({ status: 401, body: unauthenticated('token expired') });
      expect(await checkWithToken(instance.url, await own('alice', now + 60))).toMatchObject({ status: 401, body: unauthenticated('token subject is not a local user') });
      expect(await checkWithToken(instance.url, await own(ada.id, now + 60, 'unknown-kid'))).toMatchObject({ status: 401, body: unauthenticated('token signing key is unknown') });
    });
  });

  describe('refusals', () => {
    it('a wrong password, an unknown login and an unknown company answer the same 401', async () => {
      for (const body of [
        { company: 'acme', login: 'ada', password: 'wrong-password-123' },
        { company: 'acme', login: 'nobody', password: 'wrong-password-123' },
        { company: 'nowhere', login: 'ada', password: ada.password },
        { company: 'globex', login: 'ada', password: ada.password },
      ]) {
        expect(await login(body)).toMatchObject({ status: 401, body: invalid });
      }
      await login({ company: 'acme', login: 'ada', password: ada.password }); // resets the count for later tests
    });

    it('an inactive or invited member with the right password is 403; with a wrong one, 401', async () => {
      for (const status of ['inactive', 'invited'] as const) {
        const user = await seedLocalUser(instance.app.store.db, 'acme', `gone-${status}`, { status });
        expect(await login({ company: 'acme', login: user.login, password: user.password })).toMatchObject({
          status: 403,
          body: { error: { code: 'forbidden', message: 'this account has no active membership in the company' } },
        });
        expect(await login({ company: 'acme', login: user.login, password: 'wrong-password-123' })).toMatchObject({ status: 401, body: invalid });
      }
    });

    it('unknown or missing fields are 400 invalid_request', async () => {
      const extra = await login({ company: 'acme', login: 'ada', password: ada.password, remember: true });
      expect(extra.status).toBe(400);
      expect(extra.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'remember' } });
      expect(extra.body.error.message).toContain('remember');
      const missing = await login({ company: 'acme', login: 'ada' });
      expect(missing.status).toBe(400);
      expect(missing.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'password' } });
      const badCompany = await login({ company: 'a b', login: 'ada', password: 'x' });
      expect(badCompany.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'company' } });
    });
  });

  describe('lockout', () => {
    it(`locks after ${MAX_FAILED_ATTEMPTS} failures: 429 with Retry-After, even for the right password`, async () => {
      const user = await seedLocalUser(instance.app.store.db, 'acme', 'lock-serial');
      const wrong = { company: 'acme', login: user.login, password: 'wrong-password-123' };
      for (let i = 0; i < MAX_FAILED_ATTEMPTS; i += 1) expect(await login(wrong)).toMatchObject({ status: 401, body: invalid });

      for (const body of [wrong, { ...wrong, password: user.password }]) {
        const response = await login(body);
        expect(response.status).toBe(429);
        expect(response.body.error).toMatchObject({ code: 'too_many_requests', message: 'too many failed logins; try again later' });
        const retryAfter = Number(response.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(LOCK_MS / 1000 - 5);
        expect(retryAfter).toBeLessThanOrEqual(LOCK_MS / 1000);
        expect(response.body.error.details).toEqual({ retryAfterSeconds: retryAfter });
      }
      expect(await credentialsOf(user)).toMatchObject({ failed_attempts: MAX_FAILED_ATTEMPTS });

      // When the lock has run out, one more failure locks again at once...
      const expire = () =>
        instance.app.store.db.updateTable('local_credentials').set({ locked_until: sql<Date>`now() - interval '1 second'` }).where('user_id', '=', user.id).execute();
      await expire();
      expect(await login(wrong)).toMatchObject({ status: 401, body: invalid });
      expect((await login({ ...wrong, password: user.password })).status).toBe(429);
      // ...while the right password logs in and clears the count.
      await expire();
      expect((await login({ ...wrong, password: user.password })).status).toBe(200);
      expect(await credentialsOf(user)).toEqual({ failed_attempts: 0, locked_until: null });
    });

    it('a success resets the count', async () => {
      const user = await seedLocalUser(instance.app.store.db, 'acme', 'lock-reset');
      const wrong = { company: 'acme', login: user.login, password: 'wrong-password-123' };
      for (let i = 0; i < MAX_FAILED_ATTEMPTS - 1; i += 1) expect((await login(wrong)).status).toBe(401);
      expect((await login({ ...wrong, password: user.password })).status).toBe(200);
      for (let i = 0; i < MAX_FAILED_ATTEMPTS - 1; i += 1) expect((await login(wrong)).status).toBe(401);
      expect((await login({ ...wrong, password: user.password })).status).toBe(200);
    });

    it('20 parallel wrong guesses on two instances get no more than the threshold through', async () => {
      const user = await seedLocalUser(instance.app.store.db, 'acme', 'lock-parallel');
      const wrong = { company: 'acme', login: user.login, password: 'wrong-password-123' };
      const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => login(wrong, i % 2 ? other.url : instance.url)));
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses).toEqual([...Array(MAX_FAILED_ATTEMPTS).fill(401), ...Array(20 - MAX_FAILED_ATTEMPTS).fill(429)]);
      expect(await credentialsOf(user)).toMatchObject({ failed_attempts: MAX_FAILED_ATTEMPTS });
      expect((await login({ ...wrong, password: user.password })).status).toBe(429);
    });

    it('an unknown login locks the same way, so a lockout does not reveal which logins exist', async () => {
      const wrong = { company: 'acme', login: 'no-such-login', password: 'wrong-password-123' };
      for (let i = 0; i < MAX_FAILED_ATTEMPTS; i += 1) expect(await login(wrong)).toMatchObject({ status: 401, body: invalid });
      const response = await login(wrong);
      expect(response.status).toBe(429);
      expect(response.body.error.code).toBe('too_many_requests');
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });
});

describe.skipIf(!servicesUp)("Castellan's signing key", () => {
  let env: TestEnvironment;
  afterAll(() => env?.close());

  it('instances starting together against an empty table create one key and all sign with it', async () => {
    env = await createTestEnvironment();
    const first = await env.start(); // applies the migrations (and creates a key)
    await first.app.store.db.deleteFrom('signing_keys').execute();
    const instances = await Promise.all([1, 2, 3, 4].map(() => env.start({ MIGRATE_ON_START: 'false' })));
    const rows = await first.app.store.db.selectFrom('signing_keys').select(['kid', 'alg']).execute();
    expect(rows).toEqual([{ kid: expect.any(String), alg: 'ES256' }]);

    await seedCompany(first.app.store.db, first.app.policies, { id: 'acme', members: [], projects: ['p1'] });
    const user = await seedLocalUser(first.app.store.db, 'acme', 'ada');
    for (const signer of instances) {
      const response = await api(signer.url, 'POST', '/v1/auth/token', { company: 'acme', login: 'ada', password: user.password });
      expect(response.status).toBe(200);
      expect(decodeProtectedHeader(response.body.accessToken).kid).toBe(rows[0]!.kid);
      for (const verifier of instances) expect((await checkWithToken(verifier.url, response.body.accessToken)).status).toBe(200);
    }
  });
});

describe.skipIf(!servicesUp)('with PostgreSQL unreachable', () => {
  let env: TestEnvironment;
  afterAll(() => env?.close());

  it('login and the JWKS answer 503 unavailable, never a token', async () => {
    env = await createTestEnvironment({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', MIGRATE_ON_START: 'false' });
    const { url } = await env.start();
    const unavailable = { error: { code: 'unavailable', message: 'the credential store is unreachable', details: { dependency: 'postgres' } } };
    expect(await api(url, 'POST', '/v1/auth/token', { company: 'acme', login: 'ada', password: 'whatever-password' })).toMatchObject({ status: 503, body: unavailable });
    expect(await api(url, 'GET', '/.well-known/jwks.json')).toMatchObject({ status: 503, body: unavailable });
  });
});
