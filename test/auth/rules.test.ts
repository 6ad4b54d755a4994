import { errors } from 'jose';
import { describe, expect, it } from 'vitest';
import { createPhantomAttempts, failureDelayMs, LOCK_MS, MAX_FAILED_ATTEMPTS, reserveAttempt, retryAfterSeconds, type AttemptState } from '../../src/auth/lockout.js';
import { cacheDeadline, createVerifiedTokenCache } from '../../src/auth/token-cache.js';
import { claimsFrom, externalAlgorithms, tokenSource, verificationFailure } from '../../src/auth/tokens.js';
import { UnauthenticatedError } from '../../src/errors.js';

describe('lockout rules', () => {
  const fresh: AttemptState = { failedAttempts: 0, lockedUntilMs: null };

  it(`lets ${MAX_FAILED_ATTEMPTS} attempts through, locking on the last for LOCK_MS`, () => {
    let state = fresh;
    for (let i = 1; i <= MAX_FAILED_ATTEMPTS; i += 1) {
      const reservation = reserveAttempt(state, 1000);
      expect(reservation).toMatchObject({ ok: true, attempts: i });
      if (!reservation.ok) throw new Error('unreachable');
      state = reservation.next;
    }
    expect(state).toEqual({ failedAttempts: MAX_FAILED_ATTEMPTS, lockedUntilMs: 1000 + LOCK_MS });
    expect(reserveAttempt(state, 1000)).toEqual({ ok: false, retryAfterSeconds: LOCK_MS / 1000 });
    expect(reserveAttempt(state, 1000 + LOCK_MS - 1)).toEqual({ ok: false, retryAfterSeconds: 1 });
    // Once the lock has run out, the next attempt goes through and locks again.
    expect(reserveAttempt(state, 1000 + LOCK_MS)).toEqual({
      ok: true,
      attempts: MAX_FAILED_ATTEMPTS + 1,
      next: { failedAttempts: MAX_FAILED_ATTEMPTS + 1, lockedUntilMs: 1000 + 2 * LOCK_MS },
    });
  });

  it('rounds Retry-After up and never to 0', () => {
    expect(retryAfterSeconds(10_500, 10_000)).toBe(1);
    expect(retryAfterSeconds(12_001, 10_000)).toBe(3);
    expect(retryAfterSeconds(9_000, 10_000)).toBe(1);
  });

  it('slows failures from the third on, not the one that locks', () => {
    expect([1, 2, 3, 4, 5, 6].map(failureDelayMs)).toEqual([0, 0, 200, 400, 0, 0]);
  });

  it('phantom attempts for unknown logins follow the same rules, per key', () => {
    const phantoms = createPhantomAttempts(2);
    for (let i = 0; i < MAX_FAILED_ATTEMPTS; i += 1) expect(phantoms.reserve('a', 0).ok).toBe(true);
    expect(phantoms.reserve('a', 0)).toEqual({ ok: false, retryAfterSeconds: LOCK_MS / 1000 });
    expect(phantoms.reserve('b', 0).ok).toBe(true);
    expect(phantoms.reserve('c', 0).ok).toBe(true); // bounded at 2: "a" is forgotten
    expect(phantoms.reserve('a', 0)).toMatchObject({ ok: true, attempts: 1 });
  });
});

describe('verified-token cache', () => {
  const options = { maxEntries: 2, maxTtlMs: 60_000, maxTokenLength: 20 };

  it('keeps an entry until exp, or maxTtlMs if sooner', () => {
    expect(cacheDeadline(100, 10_000, 60_000)).toBe(70_000);
    expect(cacheDeadline(30, 10_000, 60_000)).toBe(30_000);
    expect(cacheDeadline(10, 10_000, 60_000)).toBeNull();
  });

  it('answers until the deadline, then forgets', () => {
    const cache = createVerifiedTokenCache<string>(options);
    cache.set('t1', 'alice', 20, 10_000);
    expect(cache.get('t1', 19_999)).toBe('alice');
    expect(cache.get('t1', 20_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('is bounded, and skips expired and oversized tokens', () => {
    const cache = createVerifiedTokenCache<string>(options);
    cache.set('t1', 'a', 100, 0);
    cache.set('t2', 'b', 100, 0);
    cache.set('t3', 'c', 100, 0);
    expect([cache.get('t1', 0), cache.get('t2', 0), cache.get('t3', 0)]).toEqual([undefined, 'b', 'c']);
    cache.set('old', 'd', 1, 5_000);
    cache.set('x'.repeat(21), 'e', 100, 0);
    expect(cache.size).toBe(2);
  });
});

describe('token rules', () => {
  it('allow-lists algorithms by what is configured', () => {
    expect(externalAlgorithms({ hasSecret: false, hasJwks: false })).toEqual([]);
    expect(externalAlgorithms({ hasSecret: true, hasJwks: false })).toEqual(['HS256']);
    const jwks = externalAlgorithms({ hasSecret: false, hasJwks: true });
    expect(jwks).toContain('RS256');
    expect(jwks).toContain('ES256');
    expect(jwks.some((alg) => alg.startsWith('HS') || alg === 'none')).toBe(false);
  });

  it("routes by Castellan's issuer only", () => {
    expect(tokenSource({ iss: 'castellan' })).toBe('own');
    expect(tokenSource({ iss: 'https://idp.example' })).toBe('external');
    expect(tokenSource({})).toBe('external');
  });

  it('keeps local subjects for own tokens and the rest for external ones', () => {
    const exp = 2_000_000_000;
    const email = { email: 'a@example.test', email_verified: true };
    expect(claimsFrom({ sub: 'alice', exp, ...email, company: 'acme' }, 'external')).toEqual({ claims: { sub: 'alice', email: 'a@example.test' }, exp });
    // Local users have no email, whatever their token says.
    expect(claimsFrom({ sub: 'local:1', exp, ...email }, 'own')).toEqual({ claims: { sub: 'local:1' }, exp });
    expect(claimsFrom({ sub: 'local:1', exp, company: 'acme' }, 'own')).toEqual({ claims: { sub: 'local:1', company: 'acme' }, exp });
    expect(() => claimsFrom({ sub: 'local:1', exp }, 'external')).toThrow(UnauthenticatedError);
    expect(() => claimsFrom({ sub: 'alice', exp }, 'own')).toThrow(UnauthenticatedError);
    expect(() => claimsFrom({ sub: '', exp }, 'external')).toThrow('token has no subject');
  });

  it('counts an email only when the identity provider verified it (or is trusted to, and did not deny it)', () => {
    const exp = 2_000_000_000;
    const emailOf = (claims: Record<string, unknown>, trustEmails = false) => claimsFrom({ sub: 'alice', exp, ...claims }, 'external', { trustEmails }).claims.email;
    expect(emailOf({ email: 'a@example.test', email_verified: true })).toBe('a@example.test');
    for (const verified of [undefined, false, 'true', 1]) expect(emailOf({ email: 'a@example.test', email_verified: verified }), String(verified)).toBeUndefined();
    expect(emailOf({ email: 'a@example.test' }, true)).toBe('a@example.test');
    expect(emailOf({ email: 'a@example.test', email_verified: false }, true)).toBeUndefined();
    for (const email of ['', 'a\u0000@example.test', 'a\n@example.test', `${'a'.repeat(250)}@x.test`, 42]) {
      expect(emailOf({ email, email_verified: true }), JSON.stringify(email)).toBeUndefined();
    }
  });

  it('describes jose failures briefly and leaves other errors to the caller', () => {
    expect(verificationFailure(new errors.JWTExpired('x', {}, 'exp'))).toBe('token expired');
    expect(verificationFailure(new errors.JWTClaimValidationFailed('x', {}, 'aud', 'check_failed'))).toBe('token "aud" claim is not accepted');
    expect(verificationFailure(new errors.JWKSTimeout())).toBe('identity provider keys are unavailable');
    expect(verificationFailure(new TypeError('fetch failed'))).toBeNull();
  });
});
