import { sql, type Kysely, type Transaction } from 'kysely';
import type { CompanyRole, Database, MembershipStatus, StoredPermission } from './schema.js';

export interface LoadedPrincipal {
  /** The company's policy version the facts were read at; null when the company does not exist. */
  version: string | null;
  membership: {
    status: MembershipStatus;
    role: CompanyRole;
    owner: boolean;
    applicationAccess: boolean;
    developerAccess: boolean;
  } | null;
  /** Null when the company stores no permissions for the role (admin's come from policies). */
  companyRolePermissions: StoredPermission[] | null;
  projectGrants: Array<{ projectId: string; roleKey: string; teamId: string | null; permissions: StoredPermission[] }>;
}

/**
 * Loads what decides one principal's rights in one company in two indexed queries,
 * in one read-only snapshot so the version matches the facts it stamps:
 * 1. version, membership and company-role permissions (primary keys);
 * 2. project grants, direct and through teams (indexes on (company_id, user_id)).
 */
export async function loadPrincipalFacts(db: Kysely<Database>, companyId: string, userId: string): Promise<LoadedPrincipal> {
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute((trx) => loadPrincipalFactsIn(trx, companyId, userId));
}

/** The same two queries inside a transaction the caller already holds (admin writes authorise inside theirs). */
export async function loadPrincipalFactsIn(trx: Transaction<Database>, companyId: string, userId: string): Promise<LoadedPrincipal> {
  const head = await trx
    .selectFrom('policy_versions as v')
    .leftJoin('memberships as m', (join) => join.onRef('m.company_id', '=', 'v.company_id').on('m.user_id', '=', userId))
    .leftJoin('company_role_permissions as r', (join) => join.onRef('r.company_id', '=', 'v.company_id').onRef('r.role', '=', 'm.role'))
    .select([
      'v.version',
      'm.status',
      'm.role',
      'm.owner',
      'm.application_access',
      'm.developer_access',
      'r.permissions',
    ])
    .where('v.company_id', '=', companyId)
    .executeTakeFirst();

  if (!head) return { version: null, membership: null, companyRolePermissions: null, projectGrants: [] };
  if (!head.status || !head.role) {
    return { version: String(head.version), membership: null, companyRolePermissions: null, projectGrants: [] };
  }
  const membership = {
    status: head.status,
    role: head.role,
    owner: head.owner === true,
    applicationAccess: head.application_access === true,
    developerAccess: head.developer_access === true,
  };
  const base = { version: String(head.version), membership, companyRolePermissions: head.permissions ?? null };
  if (membership.status !== 'active') return { ...base, projectGrants: [] };

  const grants = await trx
    .selectFrom('project_grants as g')
    .innerJoin('project_roles as pr', (join) => join.onRef('pr.company_id', '=', 'g.company_id').onRef('pr.key', '=', 'g.role_key'))
    .select(['g.project_id', 'g.role_key', 'g.team_id', 'pr.permissions'])
    .where('g.company_id', '=', companyId)
    .where((eb) =>
      eb.or([
        eb('g.user_id', '=', userId),
        eb(
          'g.team_id',
          'in',
          eb.selectFrom('team_members as tm').select('tm.team_id').where('tm.company_id', '=', companyId).where('tm.user_id', '=', userId),
        ),
      ]),
    )
    .orderBy('g.id')
    .execute();

  return {
    ...base,
    projectGrants: grants.map((g) => ({ projectId: g.project_id, roleKey: g.role_key, teamId: g.team_id, permissions: g.permissions })),
  };
}

/** Used by tests and the bench to make sure the loader stays an index lookup. */
export const explainGrantsQuery = (companyId: string, userId: string) =>
  sql`explain select g.project_id from project_grants g where g.company_id = ${companyId} and (g.user_id = ${userId} or g.team_id in (select tm.team_id from team_members tm where tm.company_id = ${companyId} and tm.user_id = ${userId}))`;
