import { createRemoteJWKSet, decodeJwt, jwtVerify, type CryptoKey, type FlattenedJWSInput, type JWK, type JWSHeaderParameters, type JWTPayload } from 'jose';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { UnauthenticatedError } from '../errors.js';
import type { Logger } from '../log.js';
import type { HashQueue } from './hash-queue.js';
import { createLocalLogin, fromStore, type LoginRequest, type TokenResponse } from './login.js';
import { createOwnKeys, OWN_ALG } from './signing-keys.js';
import { createVerifiedTokenCache } from './token-cache.js';
import { claimsFrom, CLOCK_TOLERANCE_SECONDS, externalAlgorithms, OWN_AUDIENCE, OWN_ISSUER, tokenSource, verificationFailure, type TokenClaims, type TokenSource } from './tokens.js';

export type { TokenClaims } from './tokens.js';
export type { LoginRequest, TokenResponse } from './login.js';

export interface AuthConfig {
  jwtSecret?: string | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Count an external token's `email` without `email_verified: true` (never with `email_verified: false`). */
  trustEmails?: boolean | undefined;
}

export interface Auth {
  /** Verifies a bearer token (external issuer or Castellan's own); throws UnauthenticatedError. */
  verify(token: string): Promise<TokenClaims>;
}

/** What the auth routes need on top of verification. */
export interface CastellanAuth extends Auth {
  /** Local users' login (D3); throws UnauthenticatedError, ForbiddenError or TooManyRequestsError. */
  login(request: LoginRequest): Promise<TokenResponse>;
  /** Public keys of Castellan's own tokens. */
  publicJwks(): Promise<{ keys: JWK[] }>;
}

/**
 * Internal knobs, not configuration: production uses these values; a test may shorten
 * them before it starts an app (each vitest file has its own copy of this module).
 */
export const authTuning = {
  /** After a JWKS fetch, an unknown kid triggers another only this much later (jose's default). */
  jwksCooldownMs: 30_000,
  jwksTimeoutMs: 5_000,
  /** Unknown kid on an own token: reload signing keys from the database at most this often. */
  ownKeysReloadCooldownMs: 10_000,
  verifiedTokens: { maxEntries: 10_000, maxTtlMs: 60_000, maxTokenLength: 4096 },
};

type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey | Uint8Array>;

export async function createAuth(deps: { db: Kysely<Database>; config: AuthConfig; logger: Logger; hashing: HashQueue }): Promise<CastellanAuth> {
  const { db, config, logger } = deps;
  const ownKeys = createOwnKeys({ db, reloadCooldownMs: authTuning.ownKeysReloadCooldownMs });
  // Create or load the key at start-up, but do not refuse to start over it: the check API
  // can answer from its caches while PostgreSQL is away, and the next use retries.
  await ownKeys.ready().catch((error: unknown) => logger.warn({ err: error }, 'signing keys not loaded yet; will retry on first use'));

  const secret = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : null;
  const remote = config.jwksUrl
    ? createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: authTuning.jwksCooldownMs, timeoutDuration: authTuning.jwksTimeoutMs })
    : null;
  const algorithms = externalAlgorithms({ hasSecret: secret !== null, hasJwks: remote !== null });

  const externalKey: KeyResolver = async (header, token) => {
    // The algorithm list was checked before this runs: HS256 only with a secret, the rest only with a JWKS.
    if (header.alg === 'HS256' && secret) return secret;
    if (remote) return remote(header, token);
    throw new UnauthenticatedError('token algorithm not accepted');
  };
  const ownKey: KeyResolver = async (header) => {
    if (typeof header.kid !== 'string') throw new UnauthenticatedError('token has no key id');
    const key = await ownKeys.verificationKey(header.kid);
    if (!key) throw new UnauthenticatedError('token signing key is unknown');
    return key;
  };

  async function verifyExternal(token: string): Promise<JWTPayload> {
    if (algorithms.length === 0) throw new UnauthenticatedError('no external identity provider is configured');
    const { payload } = await jwtVerify(token, externalKey, {
      algorithms,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'sub'],
      ...(config.issuer ? { issuer: config.issuer } : {}),
      ...(config.audience ? { audience: config.audience } : {}),
    });
    return payload;
  }

  async function verifyOwn(token: string): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, ownKey, {
      algorithms: [OWN_ALG],
      issuer: OWN_ISSUER,
      audience: OWN_AUDIENCE,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'sub'],
    });
    return payload;
  }

  async function verifyUncached(token: string): Promise<{ claims: TokenClaims; exp: number }> {
    let source: TokenSource;
    try {
      source = tokenSource(decodeJwt(token));
    } catch {
      throw new UnauthenticatedError('token is malformed');
    }
    try {
      return claimsFrom(source === 'own' ? await verifyOwn(token) : await verifyExternal(token), source, { trustEmails: config.trustEmails ?? false });
    } catch (error) {
      if (error instanceof UnauthenticatedError) throw error;
      const reason = verificationFailure(error);
      if (reason) throw new UnauthenticatedError(reason);
      // Not the token's fault (JWKS unreachable, database down): fail closed, and say so in the log.
      logger.warn({ err: error, source }, 'token verification failed');
      throw new UnauthenticatedError('token could not be verified');
    }
  }

  const verified = createVerifiedTokenCache<TokenClaims>(authTuning.verifiedTokens);
  const login = createLocalLogin({ db, keys: ownKeys, logger, hashing: deps.hashing });

  return {
    async verify(token) {
      const hit = verified.get(token);
      if (hit) return hit;
      const { claims, exp } = await verifyUncached(token);
      // Frozen: the same object answers every later hit, so no caller may change it.
      verified.set(token, Object.freeze(claims), exp);
      return claims;
    },
    login,
    publicJwks: () => fromStore(logger, () => ownKeys.publicJwks()),
  };
}
