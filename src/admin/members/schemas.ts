import { z } from 'zod';
import { PASSWORD_MIN_LENGTH } from '../../auth/passwords.js';
import { displayName } from '../../http/text.js';
import { companyParams, companyRoleSchema, emailSchema, userIdSchema, versionSchema } from '../schemas.js';

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
export const memberList = z.object({ members: z.array(memberView) });
