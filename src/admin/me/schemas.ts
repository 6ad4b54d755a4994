import { z } from 'zod';
import { companyRoleSchema, idSchema, userIdSchema } from '../schemas.js';

const companyRef = z.object({ id: idSchema, name: z.string() });

export const myMembership = z.object({
  company: companyRef,
  role: companyRoleSchema,
  status: z.enum(['active', 'inactive']),
  owner: z.boolean(),
  applicationAccess: z.boolean(),
  developerAccess: z.boolean(),
});

export const myInvitation = z.object({
  company: companyRef,
  invitationId: userIdSchema.describe('the invitation\'s placeholder user id ("invite:<uuid>")'),
  email: z.string().describe('the address invited: the caller\'s verified email, in the case the inviter wrote it'),
  role: companyRoleSchema,
  applicationAccess: z.boolean(),
  developerAccess: z.boolean(),
  type: z.enum(['member', 'guest']).describe('what the caller will be in that company, from its registered domains (D4)'),
  status: z.enum(['invited', 'expired']).describe('expired invitations cannot be accepted (ask for a new one); they can still be declined'),
  expiresAt: z.string().describe('ISO 8601'),
  invitedBy: userIdSchema.nullable(),
});

export const meView = z.object({
  userId: userIdSchema,
  email: z.string().nullable().describe("the token's verified email, which invitations are matched to; null without one"),
  memberships: z.array(myMembership).describe('every company the caller belongs to, in company id order'),
  invitations: z.array(myInvitation).describe('invitations to the caller\'s verified email, across companies, in company id order'),
});
export type MeView = z.infer<typeof meView>;
