import { z } from 'zod';
import { ID_PATTERN, permissionSchema } from '../policy/catalog.js';
import { COMPANY_ROLES } from '../policy/types.js';
import { normaliseEmail } from './users.js';

/** Pieces of request and response schemas shared by the admin resources. */

export const idSchema = z.string().regex(ID_PATTERN, 'must be an id (1-128 chars of [A-Za-z0-9._:@-])');
export const companyRoleSchema = z.enum(COMPANY_ROLES);
export const versionSchema = z.string().regex(/^\d+$/).describe('the company policy version after the write: pass it as consistency.minVersion');
export { permissionSchema };

export const emailSchema = z
  .string()
  .trim()
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must be an email address')
  .transform(normaliseEmail);

export const domainSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as example.com');

export const companyParams = z.strictObject({ company: idSchema });

/** What every write answers with besides the object it wrote. */
export const withVersion = <T extends z.ZodRawShape>(shape: T) => z.object({ ...shape, version: versionSchema });
export const versionOnly = z.object({ version: versionSchema });
