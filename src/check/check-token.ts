import { timingSafeEqual } from 'node:crypto';
import { UnauthenticatedError } from '../errors.js';

/**
 * The check API's refusal of the calling service. `details.credential` tells it apart from a
 * refused principal token (also 401): a service relaying decisions to its users answers those
 * a 401, but its own missing credential is its outage, not the user's.
 */
export const checkTokenRefused = () =>
  new UnauthenticatedError('a valid check token is required (Authorization: Bearer <CHECK_TOKEN>)', { credential: 'check_token' });

/** Service authentication for the check API: `Authorization: Bearer <CHECK_TOKEN>` when a token is configured. */
export function createCheckTokenGuard(checkToken: string | undefined): (header: string | undefined) => boolean {
  if (!checkToken) return () => true;
  const expected = Buffer.from(`Bearer ${checkToken}`);
  return (header) => {
    if (!header) return false;
    const given = Buffer.from(header);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}
