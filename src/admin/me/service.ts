import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import type { Caller } from '../context.js';
import { invitationsTo, toView } from '../members/service.js';
import type { MeView } from './schemas.js';

/**
 * GET /v1/me reads across companies, so it is not a company's read: the caller sees only their
 * own memberships, and invitations only to their verified email (the address that could
 * accept them), matched as accepting matches it (ASCII case folding, nothing else).
 */
export function createMeService(db: Kysely<Database>) {
  return {
    async me(caller: Caller): Promise<MeView> {
      const memberships = await db
        .selectFrom('memberships as m')
        .innerJoin('companies as c', 'c.id', 'm.company_id')
        .select(['c.id', 'c.name', 'm.role', 'm.status', 'm.owner', 'm.application_access', 'm.developer_access'])
        .where('m.user_id', '=', caller.sub)
        .orderBy('c.id')
        .execute();
      const invitations = caller.email
        ? await invitationsTo(db, caller.email)
            .innerJoin('companies as c', 'c.id', 'm.company_id')
            .select(['c.id as company_id', 'c.name as company_name'])
            .orderBy('c.id')
            .execute()
        : [];
      return {
        userId: caller.sub,
        email: caller.email ?? null,
        memberships: memberships.map((m) => ({
          company: { id: m.id, name: m.name },
          role: m.role,
          // Only accepted memberships are under a user's own id; invitations are under placeholders.
          status: m.status === 'inactive' ? 'inactive' : 'active',
          owner: m.owner,
          applicationAccess: m.application_access,
          developerAccess: m.developer_access,
        })),
        invitations: invitations.map((row) => {
          const invitation = toView(row);
          return {
            company: { id: row.company_id, name: row.company_name },
            invitationId: invitation.userId,
            email: invitation.email!,
            role: invitation.role,
            applicationAccess: invitation.applicationAccess,
            developerAccess: invitation.developerAccess,
            type: invitation.type,
            status: invitation.status === 'expired' ? 'expired' : 'invited',
            expiresAt: invitation.invitation!.expiresAt,
            invitedBy: invitation.invitation!.invitedBy,
          };
        }),
      };
    },
  };
}
