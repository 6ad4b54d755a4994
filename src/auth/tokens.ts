import { errors, type JWSAlgorithm, type JWTPayload } from 'jose';
import { UnauthenticatedError } from '../errors.js';
import { isUserId, USER_ID_RULE } from './user-id.js';

/** Who a verified token speaks for. */
export interface TokenClaims {
  sub: string;
  /** External tokens only, and only a verified address (see verifiedEmail). */
  email?: string;
  /** Castellan's own tokens only: the company the local user logged in to. */
  company?: string;
}

/** `iss` and `aud` of the tokens Castellan signs for local users; fixed, not configurable. */
export const OWN_ISSUER = 'castellan';
export const OWN_AUDIENCE = 'castellan';
/** Local users' ids start with this; only Castellan's own tokens may carry such a `sub`. */
export const LOCAL_USER_PREFIX = 'local:';
/** Placeholder users of pending invitations (D6): no token ever speaks for one. */
export const INVITE_PREFIX = 'invite:';
/** Clocks of issuers and Castellan may differ this much (API.md: at most 30 s). */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** Lifetime of Castellan's own access tokens: short, as they cannot be revoked one by one. */
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;

/** Algorithms accepted from a JWKS: asymmetric only, so a public key can never serve as an HMAC secret. */
export const JWKS_ALGORITHMS: readonly JWSAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export type TokenSource = 'own' | 'external';

/** The algorithms an external token may use, given what is configured; never `none`. */
export function externalAlgorithms(config: { hasSecret: boolean; hasJwks: boolean }): JWSAlgorithm[] {
  return [...(config.hasSecret ? (['HS256'] as const) : []), ...(config.hasJwks ? JWKS_ALGORITHMS : [])];
}

/** Which verifier a token goes to. Unverified, so it only routes: each path checks everything itself. */
export function tokenSource(unverifiedPayload: JWTPayload): TokenSource {
  return unverifiedPayload.iss === OWN_ISSUER ? 'own' : 'external';
}

/** Longest address SMTP carries (RFC 5321); anything longer is not an email to match. */
const MAX_EMAIL_LENGTH = 254;

/**
 * The token's email, when it may speak for the user: claiming an invitation (D6) and the
 * Member/Guest type (D4) both rest on it, so only an address the identity provider verified
 * counts (`email_verified: true`, exactly: not "true"). `trustEmails` is for providers that
 * verify every address and leave the claim out; an explicit `false` is believed all the same.
 * An address with control characters, or longer than any address can be, counts as none.
 */
export function verifiedEmail(payload: JWTPayload, trustEmails: boolean): string | undefined {
  const { email, email_verified: verified } = payload;
  if (typeof email !== 'string' || email.length === 0 || email.length > MAX_EMAIL_LENGTH || /\p{Cc}/u.test(email)) return undefined;
  if (verified === true || (trustEmails && verified === undefined)) return email;
  return undefined;
}

/** Claims of a token whose signature and standard claims jose has checked; refuses what jose does not know about. */
export function claimsFrom(payload: JWTPayload, source: TokenSource, options: { trustEmails: boolean } = { trustEmails: false }): { claims: TokenClaims; exp: number } {
  const { sub, exp } = payload;
  if (typeof sub !== 'string' || sub.length === 0) throw new UnauthenticatedError('token has no subject');
  // Every sub accepted here must be usable as a user id everywhere else (paths, bodies, the database).
  if (!isUserId(sub)) throw new UnauthenticatedError(`token subject must be ${USER_ID_RULE}`);
  if (typeof exp !== 'number') throw new UnauthenticatedError('token has no expiry');
  if (sub.startsWith(INVITE_PREFIX)) throw new UnauthenticatedError('token subject is reserved for pending invitations');
  const local = sub.startsWith(LOCAL_USER_PREFIX);
  if (source === 'external' && local) throw new UnauthenticatedError('an external token cannot speak for a local user');
  if (source === 'own' && !local) throw new UnauthenticatedError('token subject is not a local user');
  const claims: TokenClaims = { sub };
  // Local users have no email: Castellan's own tokens never speak for one.
  const email = source === 'external' ? verifiedEmail(payload, options.trustEmails) : undefined;
  if (email !== undefined) claims.email = email;
  if (source === 'own' && typeof payload.company === 'string') claims.company = payload.company;
  return { claims, exp };
}

/** A short reason for a failed verification: no stack, no token, no claim values. Null for errors that are not jose's. */
export function verificationFailure(error: unknown): string | null {
  if (error instanceof errors.JWTExpired) return 'token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `token has no "${error.claim}" claim`;
    return `token "${error.claim}" claim is not accepted`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'token algorithm not accepted';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (error instanceof errors.JWKSNoMatchingKey) return 'token signing key is unknown';
  if (error instanceof errors.JWKSMultipleMatchingKeys) return 'token signing key is ambiguous';
  if (error instanceof errors.JWKSTimeout) return 'identity provider keys are unavailable';
  if (error instanceof errors.JWKSInvalid) return 'identity provider keys are unavailable';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'token is malformed';
  if (error instanceof errors.JOSENotSupported) return 'token algorithm not accepted';
  if (error instanceof errors.JOSEError) return 'token is invalid';
  return null;
}
