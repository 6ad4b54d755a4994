import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authTuning } from '../../src/auth/auth.js';
import { createTestEnvironment, signToken, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedCompany } from '../check/seed.js';
import { checkWithToken, nowSeconds, signRaw, startJwksServer, unauthenticated, type JwksServer } from './support.js';

// The reason wording belongs to the decision function; here only the verdict matters.
const allowed = { allowed: true };

describe.skipIf(!servicesUp)('external tokens through POST /v1/check', () => {
  let env: TestEnvironment;
  let plain: TestApp;
  let strict: TestApp;

  beforeAll(async () => {
    env = await createTestEnvironment();
    plain = await env.start();
    strict = await env.start({ AUTH_ISSUER: 'https://idp.example.test', AUTH_AUDIENCE: 'castellan-api' });
    await seedCompany(plain.app.store.db, plain.app.policies, {
      id: 'acme',
      members: [{ id: 'alice', role: 'collaborator' }],
      projects: ['p1'],
      grants: [{ project: 'p1', role: 'viewer', user: 'alice' }],
    });
  });
  afterAll(() => env?.close());

  it('accepts a valid HS256 token and decides for its subject', async () => {
    const response = await checkWithToken(plain.url, await signToken('alice'));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject(allowed);
  });

  it('refuses alg none', async () => {
    const token = new UnsecuredJWT({ sub: 'alice' }).setIssuedAt().setExpirationTime('10m').encode();
    const response = await checkWithToken(plain.url, token);
    expect(response).toMatchObject({ status: 401, body: unauthenticated('token algorithm not accepted') });
  });

  it('refuses a token signed with another secret', async () => {
    const token = await signToken('alice', {}, 'another-secret-that-is-at-least-32-characters');
    expect(await checkWithToken(plain.url, token)).toMatchObject({ status: 401, body: unauthenticated('token signature is invalid') });
  });

  it('refuses an expired token', async () => {
    const token = await signRaw({ sub: 'alice', exp: nowSeconds() - 3600 });
    expect(await checkWithToken(plain.url, token)).toMatchObject({ status: 401, body: unauthenticated('token expired') });
  });

  it('tolerates 30 s of clock skew and no more', async () => {
    const within = await signRaw({ sub: 'alice', exp: nowSeconds() - 20 });
    expect(await checkWithToken(plain.url, within)).toMatchObject({ status: 200, body: allowed });
    const beyond = await signRaw({ sub: 'alice', exp: nowSeconds() - 40 });
    expect(await checkWithToken(plain.url, beyond)).toMatchObject({ status: 401, body: unauthenticated('token expired') });
    const notYet = await signRaw({ sub: 'alice', exp: nowSeconds() + 600, nbf: nowSeconds() + 40 });
    expect(await checkWithToken(plain.url, notYet)).toMatchObject({ status: 401, body: unauthenticated('token "nbf" claim is not accepted') });
  });

  it('refuses a token without exp or without sub', async () => {
    expect(await checkWithToken(plain.url, await signRaw({ sub: 'alice' }))).toMatchObject({ status: 401, body: unauthenticated('token has no "exp" claim') });
    expect(await checkWithToken(plain.url, await signRaw({ exp: nowSeconds() + 600 }))).toMatchObject({
      status: 401,
      body: unauthenticated('token has no "sub" claim'),
    });
  });

  it('refuses garbage', async () => {
    expect(await checkWithToken(plain.url, 'not-a-jwt')).toMatchObject({ status: 401, body: unauthenticated('token is malformed') });
  });

  it('refuses an external token that claims a local user', async () => {
    const token = await signToken('local:6f1c1c1e-0000-4000-8000-000000000000');
    expect(await checkWithToken(plain.url, token)).toMatchObject({ status: 401, body: unauthenticated('an external token cannot speak for a local user') });
  });

  it('refuses a token that claims a pending invitation placeholder', async () => {
    const token = await signToken('invite:6f1c1c1e-0000-4000-8000-000000000000');
    expect(await checkWithToken(plain.url, token)).toMatchObject({ status: 401, body: unauthenticated('token subject is reserved for pending invitations') });
  });

  it('accepts any sub of 1-255 characters without control characters (API.md: user ids are the identity provider\'s sub)', async () => {
    for (const sub of ['auth0|zed', 'google-oauth2|1234', 'ada@acme.test', 'a b', '\u212Aim', '\u{1F600}'.repeat(255), 'x'.repeat(255)]) {
      const response = await checkWithToken(plain.url, await signToken(sub));
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.body).toMatchObject({ allowed: false });
    }
  });

  it('refuses a sub with a control character, longer than 255 characters, or a dot segment, with 401', async () => {
    const refused = unauthenticated('token subject must be 1-255 characters without control characters, not "." or ".."');
    for (const sub of ['a\u0000b', '\u0000', 'tab\there', 'line\n', '\u007F', 'c1\u0085', 'x'.repeat(256), '\u{1F600}'.repeat(256), '.', '..']) {
      expect(await checkWithToken(plain.url, await signToken(sub)), JSON.stringify(sub)).toMatchObject({ status: 401, body: refused });
    }
    expect(await checkWithToken(plain.url, await signRaw({ sub: '', exp: nowSeconds() + 600 }))).toMatchObject({ status: 401 });
    expect(await checkWithToken(plain.url, await signRaw({ sub: 42, exp: nowSeconds() + 600 } as never))).toMatchObject({ status: 401 });
  });

  it("refuses an HS256 token that claims Castellan's own issuer", async () => {
    const token = await signToken('local:6f1c1c1e-0000-4000-8000-000000000000', { iss: 'castellan', aud: 'castellan' });
    expect(await checkWithToken(plain.url, token)).toMatchObject({ status: 401, body: unauthenticated('token algorithm not accepted') });
  });

  describe('with AUTH_ISSUER and AUTH_AUDIENCE', () => {
    const good = { iss: 'https://idp.example.test', aud: 'castellan-api' };

    it('accepts the right issuer and audience', async () => {
      expect(await checkWithToken(strict.url, await signToken('alice', good))).toMatchObject({ status: 200, body: allowed });
    });

    it('refuses a wrong audience', async () => {
      const token = await signToken('alice', { ...good, aud: 'someone-else' });
      expect(await checkWithToken(strict.url, token)).toMatchObject({ status: 401, body: unauthenticated('token "aud" claim is not accepted') });
    });

    it('refuses a wrong issuer', async () => {
      const token = await signToken('alice', { ...good, iss: 'https://evil.example.test' });
      expect(await checkWithToken(strict.url, token)).toMatchObject({ status: 401, body: unauthenticated('token "iss" claim is not accepted') });
    });

    it('refuses a token without them', async () => {
      expect(await checkWithToken(strict.url, await signToken('alice'))).toMatchObject({ status: 401, body: unauthenticated('token has no "iss" claim') });
    });
  });
});

describe.skipIf(!servicesUp)('external tokens from a JWKS', () => {
  let env: TestEnvironment;
  let instance: TestApp;
  let jwks: JwksServer;
  const pairs: Record<string, { privateKey: CryptoKey; publicJwk: Record<string, unknown> }> = {};
  const savedCooldown = authTuning.jwksCooldownMs;

  // A JWKS is always configured with the audience and issuer Castellan's tokens must carry.
  const ISSUER = 'https://idp.example.test/';
  const AUDIENCE = 'castellan-api';
  const sign = (kid: string, sub = 'alice', audience = AUDIENCE, issuer = ISSUER) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid })
      .setSubject(sub)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(pairs[kid]!.privateKey);

  beforeAll(async () => {
    for (const kid of ['old', 'new']) {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      pairs[kid] = { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
    }
    jwks = await startJwksServer([pairs.old!.publicJwk]);
    // Production waits 30 s after a fetch before an unknown kid may trigger another.
    authTuning.jwksCooldownMs = 0;
    env = await createTestEnvironment();
    // An empty secret is "unset": this instance trusts the JWKS only.
    instance = await env.start({ AUTH_JWKS_URL: jwks.url, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, AUTH_JWT_SECRET: '' });
    await seedCompany(instance.app.store.db, instance.app.policies, {
      id: 'acme',
      members: [{ id: 'alice', role: 'collaborator' }],
      projects: ['p1'],
      grants: [{ project: 'p1', role: 'viewer', user: 'alice' }],
    });
  });
  afterAll(async () => {
    authTuning.jwksCooldownMs = savedCooldown;
    await env?.close();
    await jwks?.close();
  });

  it('accepts a token signed with a published key, fetching the JWKS once', async () => {
    expect(await checkWithToken(instance.url, await sign('old'))).toMatchObject({ status: 200, body: allowed });
    expect(await checkWithToken(instance.url, await sign('old'))).toMatchObject({ status: 200, body: allowed });
    expect(jwks.fetches).toBe(1);
  });

  it('refuses HS256 when no secret is configured', async () => {
    expect(await checkWithToken(instance.url, await signToken('alice'))).toMatchObject({ status: 401, body: unauthenticated('token algorithm not accepted') });
  });

  it('picks up a rotated key by its new kid and refuses the removed one', async () => {
    jwks.keys = [pairs.new!.publicJwk];
    expect(await checkWithToken(instance.url, await sign('new'))).toMatchObject({ status: 200, body: allowed });
    expect(jwks.fetches).toBe(2);
    expect(await checkWithToken(instance.url, await sign('old'))).toMatchObject({ status: 401, body: unauthenticated('token signing key is unknown') });
  });

  it("refuses a token the same provider issued to another application, or another tenant's", async () => {
    expect(await checkWithToken(instance.url, await sign('new', 'alice', 'some-other-app'))).toMatchObject({ status: 401, body: unauthenticated('token "aud" claim is not accepted') });
    expect(await checkWithToken(instance.url, await sign('new', 'alice', AUDIENCE, 'https://other-tenant.example.test/'))).toMatchObject({
      status: 401,
      body: unauthenticated('token "iss" claim is not accepted'),
    });
  });

  it('a JWKS without AUTH_AUDIENCE and AUTH_ISSUER does not start', async () => {
    await expect(env.start({ AUTH_JWKS_URL: jwks.url, AUTH_JWT_SECRET: '' })).rejects.toThrow(/AUTH_ISSUER, AUTH_AUDIENCE: required when AUTH_JWKS_URL is set/);
  });

  it('refuses an external token from the JWKS that claims a local user', async () => {
    const token = await sign('new', 'local:6f1c1c1e-0000-4000-8000-000000000000');
    expect(await checkWithToken(instance.url, token)).toMatchObject({ status: 401, body: unauthenticated('an external token cannot speak for a local user') });
  });
});
