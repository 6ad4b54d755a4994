import { timingSafeEqual } from 'node:crypto';
import { UnauthenticatedError } from '../errors.js';

/**
 * The check API's refusal of the calling service. `details.credential` tells it apart from a
 * refused principal token (also 401): a service relaying decisions to its users answers those
 * a 401, but its own missing credential is its outage, not the user's.
 */
export const checkTokenRefused = () =>
  new UnauthenticatedError('a valid check token is required (Authorization: Bearer <CHECK_TOKEN>)', { credential: 'check_token' });

/** Whether a presented value equals a configured secret, in constant time; anything passes when none is configured. */
export function createSecretGuard(secret: string | undefined): (presented: string | undefined) => boolean {
  if (!secret) return () => true;
  const expected = Buffer.from(secret);
  return (presented) => {
    if (!presented) return false;
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}

/** Service authentication for the check API: `Authorization: Bearer <CHECK_TOKEN>` when a token is configured. */
export function createCheckTokenGuard(checkToken: string | undefined): (header: string | undefined) => boolean {
  return createSecretGuard(checkToken ? `Bearer ${checkToken}` : undefined);
}
