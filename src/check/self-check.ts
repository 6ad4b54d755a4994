import { LOCAL_USER_PREFIX } from '../auth/tokens.js';

/** Verifies a user's JWT as the check API verifies `principal.token`; throws when it is not accepted. */
export type VerifyUserToken = (token: string) => Promise<{ sub: string; company?: string | undefined }>;

/** Whom a request asks about, read from the raw request before any validation. */
export interface AskedAbout {
  company: unknown;
  principal: unknown;
}

/**
 * `Authorization: Bearer <user JWT>` where the check token was expected: a user asking about
 * themselves (the console asking which controls its user may use). A browser must never hold
 * CHECK_TOKEN, and a user learns nothing from their own decisions they could not learn by
 * trying. Taken only after the constant-time check-token comparison failed, so services that
 * send the check token, and instances without one, never reach it.
 *
 * The question must name exactly the token's user: `principal.id` equal to its `sub`, or a
 * `principal.token` that verifies to the same `sub`. A local user's token (Castellan's own)
 * speaks for its user in the one company it was issued for, so the company must be that one.
 * Anything else resolves false, never throws: the caller answers the check token's 401.
 */
export function createSelfCheckGuard(verify: VerifyUserToken): (authorization: string | undefined, asked: AskedAbout) => Promise<boolean> {
  const claimsOf = (token: string) => verify(token).then(
    (claims) => claims,
    () => null,
  );
  const speaksFor = (claims: { sub: string; company?: string | undefined }, company: string) =>
    !claims.sub.startsWith(LOCAL_USER_PREFIX) || claims.company === company;

  return async (authorization, asked) => {
    const token = bearerOf(authorization);
    if (token === null) return false;
    const { company, principal } = asked;
    if (typeof company !== 'string' || !isPlainObject(principal)) return false;
    const keys = Object.keys(principal);
    if (keys.length !== 1) return false;
    const claims = await claimsOf(token);
    if (!claims || !speaksFor(claims, company)) return false;
    if (keys[0] === 'id') return principal.id === claims.sub;
    if (keys[0] !== 'token' || typeof principal.token !== 'string') return false;
    if (principal.token === token) return true;
    const named = await claimsOf(principal.token);
    return named !== null && named.sub === claims.sub && speaksFor(named, company);
  };
}

/** The token of `Bearer <token>`, or null. */
export function bearerOf(authorization: string | undefined): string | null {
  if (!authorization || !authorization.startsWith('Bearer ')) return null;
  const token = authorization.slice('Bearer '.length).trim();
  return token.length > 0 && token.length <= 8192 ? token : null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
