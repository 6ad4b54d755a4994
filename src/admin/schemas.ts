import { z } from 'zod';
import { asciiLowerCase } from '../auth/email.js';
import { userIdSchema } from '../auth/user-id.js';
import { idSchema, permissionSchema } from '../policy/catalog.js';
import { COMPANY_ROLES } from '../policy/types.js';
import { hasControlCharacters, NO_CONTROL_CHARACTERS } from '../http/text.js';
import { normaliseEmail } from './users.js';

/** Pieces of request and response schemas shared by the admin resources. */

export { idSchema, userIdSchema };
export const companyRoleSchema = z.enum(COMPANY_ROLES);
export const versionSchema = z.string().regex(/^\d+$/).describe('the company policy version after the write: pass it as consistency.minVersion');
export { permissionSchema };

/**
 * Invitations go to ASCII addresses only: a non-ASCII one could be a look-alike of another
 * (U+212A KELVIN SIGN for K), and an internationalised domain has an ASCII form (xn--). Tokens' emails are
 * compared with these exactly, after ASCII case folding.
 */
export const emailSchema = z
  .string()
  .trim()
  .max(254)
  .regex(/^[\x21-\x7E]*$/, 'must be an ASCII email address (an internationalised domain in its xn-- form)')
  .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must be an email address')
  .refine((email) => !hasControlCharacters(email), NO_CONTROL_CHARACTERS)
  .transform(normaliseEmail);

// Checked before lowercasing, and lowercased in ASCII only: toLowerCase would turn look-alikes
// such as U+212A KELVIN SIGN into the ASCII domain they imitate.
export const domainSchema = z
  .string()
  .trim()
  .regex(/^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/, 'must be a domain name such as example.com')
  .transform(asciiLowerCase);

export const companyParams = z.strictObject({ company: idSchema });

export const versionOnly = z.object({ version: versionSchema });

/** Paging cursors: base64url of the page's last key, opaque to clients so that their form can change. */
export const encodeCursor = (key: string): string => Buffer.from(key, 'utf8').toString('base64url');

/**
 * Decodes only what encodeCursor produces for a key `isKey` accepts, so a mangled cursor is a
 * 400 rather than a page from somewhere unexpected; null otherwise.
 */
export function decodeCursorOf(cursor: string, isKey: (key: string) => boolean, maxLength: number): string | null {
  if (cursor.length > maxLength || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  return isKey(key) && encodeCursor(key) === cursor ? key : null;
}

/** `?after=<cursor>&limit=<n>`: the cursor validated here (a refinement, unlike a transform, still describes itself in OpenAPI), decoded by the service. */
export const pagingQuery = (decode: (cursor: string) => string | null, limits: { default: number; max: number }) =>
  z.strictObject({
    after: z.string().refine((cursor) => decode(cursor) !== null, 'must be the "next" cursor of a previous page').optional(),
    limit: z.coerce.number().int().min(1).max(limits.max).default(limits.default),
  });
