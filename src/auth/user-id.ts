import { z } from 'zod';

/**
 * User ids are the identity provider's `sub` (API.md, Conventions), so their form is the
 * provider's, not Castellan's: `auth0|5f1c…`, `google-oauth2|1234`, an email, anything.
 * Refused, and only these:
 * - control characters: PostgreSQL cannot store NUL, and logs and terminals act on the rest;
 * - lone surrogates: UTF-8 cannot carry them, so two different ones would arrive in the
 *   database (and in Redis keys) as the same replacement character, that is the same user;
 * - `.` and `..`: no URL can carry them as a path segment (clients resolve them, percent-encoded
 *   or not), so such a user could never be named in a path.
 * Length is counted in characters (code points), as JSON Schema's `pattern` counts with the
 * `u` flag.
 */
export const USER_ID_PATTERN = /^(?!\.\.?$)[^\u0000-\u001F\u007F-\u009F\uD800-\uDFFF]{1,255}$/u;
export const USER_ID_RULE = '1-255 characters without control characters, not "." or ".."';

export function isUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID_PATTERN.test(value);
}

/** The one schema for a user id, wherever one appears: paths, bodies, answers. */
export const userIdSchema = z
  .string()
  .regex(USER_ID_PATTERN, `must be a user id (${USER_ID_RULE})`)
  .describe(`a user id: the identity provider's sub, or local:<uuid> for local users; ${USER_ID_RULE}, percent-encoded in paths`);
