import { sql, type Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import type { Caller } from '../context.js';
import { asciiLowerCase, asciiLowerSql, domainMemberSql, invitationExpiredSql } from '../users.js';
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
        ? await db
            .selectFrom('memberships as m')
            .innerJoin('users as u', 'u.id', 'm.user_id')
            .innerJoin('companies as c', 'c.id', 'm.company_id')
            .select([
              'c.id',
              'c.name',
              'm.user_id',
              'u.email',
              'm.role',
              'm.application_access',
              'm.developer_access',
              'm.invitation_expires_at',
              'm.invited_by',
              invitationExpiredSql().as('expired'),
              domainMemberSql().as('domain_member'),
            ])
            .where('m.status', '=', 'invited')
            .where(asciiLowerSql(sql.ref('u.email')), '=', asciiLowerCase(caller.email))
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
        invitations: invitations.map((i) => ({
          company: { id: i.id, name: i.name },
          invitationId: i.user_id,
          email: i.email!,
          role: i.role,
          applicationAccess: i.application_access,
          developerAccess: i.developer_access,
          type: i.domain_member ? 'member' : 'guest',
          status: i.expired ? 'expired' : 'invited',
          expiresAt: new Date(i.invitation_expires_at).toISOString(),
          invitedBy: i.invited_by,
        })),
      };
    },
  };
}
