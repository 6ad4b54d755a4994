import { z } from 'zod';
import { hasControlCharacters, NO_CONTROL_CHARACTERS } from '../../http/text.js';
import { decodeCursorOf, encodeCursor, idSchema, pagingQuery, userIdSchema, versionSchema } from '../schemas.js';

/** The paging cursor: base64url of the last entry's id (bigserial: decimal, no leading zeros, within bigint, which PostgreSQL refuses beyond). */
export { encodeCursor };

const MAX_BIGINT = 2n ** 63n - 1n;
const isEntryId = (id: string) => /^[1-9][0-9]{0,18}$/.test(id) && BigInt(id) <= MAX_BIGINT;
export const decodeCursor = (cursor: string): string | null => decodeCursorOf(cursor, isEntryId, 32);

export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 500;

export const AUDIT_TARGET_MAX = 300;

/**
 * Optional filters beside the paging (API.md's `?after=&limit=` keeps its meaning): the
 * cursor is the last entry's id, so a next page asked with the same filters carries on.
 */
export const auditQuery = pagingQuery(decodeCursor, { default: AUDIT_PAGE_DEFAULT, max: AUDIT_PAGE_MAX }).extend({
  actor: userIdSchema.optional().describe('only entries by this actor: a user id, exactly, or "operator" for the platform operator acting alone'),
  target: z
    .string()
    .min(1)
    .max(AUDIT_TARGET_MAX)
    .refine((target) => !hasControlCharacters(target), NO_CONTROL_CHARACTERS)
    .optional()
    .describe('only entries whose target starts with this, case-sensitively: member:ken, team:design, grant:bridge/ (grants on project bridge), role:'),
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
