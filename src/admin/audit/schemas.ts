import { z } from 'zod';
import { idSchema, userIdSchema, versionSchema } from '../schemas.js';

/**
 * The paging cursor: base64url of the last entry's id. Opaque to clients so its form can
 * change; decoded strictly (only what `encodeCursor` produces), so a mangled cursor is a
 * 400 rather than a page from somewhere unexpected.
 */
export const encodeCursor = (id: string): string => Buffer.from(id, 'utf8').toString('base64url');

const MAX_BIGINT = 2n ** 63n - 1n;

export function decodeCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(cursor)) return null;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  // bigserial ids: decimal without leading zeros, at most 19 digits, and no larger than bigint holds
  // (PostgreSQL refuses a larger one in the comparison).
  if (!/^[1-9][0-9]{0,18}$/.test(id) || BigInt(id) > MAX_BIGINT || encodeCursor(id) !== cursor) return null;
  return id;
}

export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 500;

export const auditQuery = z.strictObject({
  // Validated here, decoded by the service: a refinement, unlike a transform, still describes itself in OpenAPI.
  after: z.string().refine((cursor) => decodeCursor(cursor) !== null, 'must be the "next" cursor of a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(AUDIT_PAGE_DEFAULT),
});
export type AuditQuery = z.infer<typeof auditQuery>;

export const auditParams = z.strictObject({ company: idSchema });

export const auditEntry = z.object({
  id: z.string(),
  at: z.string().describe('ISO 8601 time of the write'),
  actor: userIdSchema.describe('user id of the caller who made the change; "operator" for the platform operator acting without a user'),
  operator: z.boolean().describe("the change carried the platform operator's credential (X-Castellan-Operator-Token)"),
  action: z.string().describe('e.g. role.project.update'),
  target: z.string().describe('e.g. role:project/viewer'),
  before: z.unknown().nullable(),
  after: z.unknown().nullable(),
  version: versionSchema,
});
export type AuditEntryView = z.infer<typeof auditEntry>;

export const auditPage = z.object({
  entries: z.array(auditEntry),
  next: z.string().nullable().describe('pass as ?after= for the next page; null when there is none yet'),
});
export type AuditPage = z.infer<typeof auditPage>;
