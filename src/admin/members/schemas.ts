import { z } from 'zod';
import { PASSWORD_MIN_LENGTH } from '../../auth/passwords.js';
import { isUserId } from '../../auth/user-id.js';
import { displayName, hasControlCharacters, NO_CONTROL_CHARACTERS } from '../../http/text.js';
import { companyParams, companyRoleSchema, decodeCursorOf, emailSchema, encodeCursor, userIdSchema, versionSchema } from '../schemas.js';

export const memberParams = companyParams.extend({ userId: userIdSchema });

export const inviteBody = z.strictObject({
  email: emailSchema,
  role: companyRoleSchema,
  applicationAccess: z.boolean().optional(),
  developerAccess: z.boolean().optional(),
});
export type InviteInput = z.infer<typeof inviteBody>;

const personName = displayName(100);
export const localUserBody = z.strictObject({
  login: z.string().regex(/^[A-Za-z0-9._@-]{3,64}$/, 'must be 3-64 letters, digits or . _ @ -'),
  password: z.string().min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`).max(1024),
  firstName: personName,
  lastName: personName,
  role: companyRoleSchema,
  applicationAccess: z.boolean().optional(),
});
export type LocalUserInput = z.infer<typeof localUserBody>;

export const memberPatchBody = z
  .strictObject({
    role: companyRoleSchema.optional(),
    // `invited` is not set by hand: an invitation turns active when its invitee accepts it.
    status: z.enum(['active', 'inactive']).optional(),
    applicationAccess: z.boolean().optional(),
    developerAccess: z.boolean().optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, 'name at least one of role, status, applicationAccess, developerAccess');
export type MemberPatch = z.infer<typeof memberPatchBody>;

export const invitationInfo = z.object({
  expiresAt: z.string().describe('ISO 8601: when the invitation lapses (INVITATION_TTL after it was sent or last re-sent)'),
  invitedBy: userIdSchema.nullable().describe('who sent it, or last re-sent it; null for invitations older than this field'),
});

export const memberView = z.object({
  userId: userIdSchema.describe('until an invitation is accepted, a placeholder id starting with "invite:"'),
  email: z.string().nullable(),
  kind: z.enum(['platform', 'local']),
  type: z.enum(['member', 'guest']).describe('derived from the email domain (D4); local users are members'),
  status: z
    .enum(['invited', 'expired', 'active', 'inactive'])
    .describe('expired: an invitation past its expiry, which cannot be accepted, holds no license seat and can be re-invited'),
  invitation: invitationInfo.optional().describe('invitations (invited or expired) only'),
  role: companyRoleSchema,
  owner: z.boolean(),
  applicationAccess: z.boolean(),
  developerAccess: z.boolean(),
  login: z.string().optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
});
export type MemberView = z.infer<typeof memberView>;
export const memberWritten = memberView.extend({ version: versionSchema });
export type MemberWritten = z.infer<typeof memberWritten>;

/** The members list's paging cursor: base64url of the page's last user id (255 characters of up to 4 UTF-8 bytes at most). */
export const encodeMemberCursor = encodeCursor;
export const decodeMemberCursor = (cursor: string): string | null => decodeCursorOf(cursor, isUserId, 1400);

export const MEMBER_PAGE_MAX = 1000;
export const MEMBER_SEARCH_MAX = 200;

/**
 * All optional: without any, the whole list as it always was. `limit` asks for pages (in user id
 * order, `next` and `total` in the answer); `after` continues from a page, so needs `limit`. The
 * filters narrow either form.
 */
export const memberListQuery = z
  .strictObject({
    limit: z.coerce.number().int().min(1).max(MEMBER_PAGE_MAX).optional().describe(`1-${MEMBER_PAGE_MAX}: answer a page of at most this many, in user id order, with next and total`),
    after: z
      .string()
      .refine((cursor) => decodeMemberCursor(cursor) !== null, 'must be the "next" cursor of a previous page')
      .optional()
      .describe('the "next" cursor of the previous page (with limit)'),
    q: z
      .string()
      .max(MEMBER_SEARCH_MAX)
      .refine((text) => !hasControlCharacters(text), NO_CONTROL_CHARACTERS)
      .optional()
      .describe('case-insensitive substring of the user id, email, login, first or last name ("first last" too); empty: no search'),
    status: memberView.shape.status.optional(),
    role: companyRoleSchema.optional(),
    type: memberView.shape.type.optional(),
    kind: memberView.shape.kind.optional(),
  })
  .refine((query) => query.after === undefined || query.limit !== undefined, { message: 'after needs limit: pages are asked for with limit', path: ['after'] });
export type MemberListQuery = z.infer<typeof memberListQuery>;

export const memberList = z.object({
  members: z.array(memberView).describe('without limit: every member (matching the filters), oldest membership first; with limit: one page, in user id order'),
  next: z.string().nullable().optional().describe('with limit only: pass as ?after= (with the same limit and filters) for the next page; null on the last page'),
  total: z.number().int().optional().describe('with limit only: how many members match the filters, over all pages'),
});
export type MemberList = z.infer<typeof memberList>;
