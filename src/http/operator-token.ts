import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthenticatedError } from '../errors.js';

/**
 * The platform operator's credential (OPERATOR_TOKEN): the billing side sets plans and
 * licenses with it, registers domains it verified its own way, and reads deleted companies'
 * audit logs. A header of its own, so it can travel beside a user's bearer token.
 */
export const OPERATOR_HEADER = 'x-castellan-operator-token';

/** Equal-length digests, so the comparison takes the same time whatever the length of the guess. */
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether a request carries the operator credential. A header that is present but wrong,
 * or sent to an instance with no OPERATOR_TOKEN, is refused rather than ignored: a caller
 * who believes it acts as the platform must not silently go on as a plain user.
 */
export function createOperatorGuard(operatorToken: string | undefined): (header: string | string[] | undefined) => boolean {
  const expected = operatorToken ? digest(operatorToken) : null;
  return (header) => {
    if (header === undefined) return false;
    if (expected === null) throw new UnauthenticatedError('this instance accepts no operator credential (OPERATOR_TOKEN is not set)');
    if (typeof header !== 'string' || !timingSafeEqual(digest(header), expected)) throw new UnauthenticatedError('the operator token is not valid');
    return true;
  };
}
