import { sql, type Kysely, type Transaction } from 'kysely';
import type { StoredPrincipal } from '../policy/compiler.js';
import type { Database, StoredPermission } from './schema.js';

/** A principal's stored facts in one company, stamped with the version they were read at. */
export interface LoadedPrincipal extends StoredPrincipal {
  /** The company's policy version the facts were read at; null when the company id was never used. */
  version: string | null;
  projectGrants: Array<{ projectId: string; roleKey: string; teamId: string | null; permissions: StoredPermission[] }>;
}

/**
 * Loads what decides one principal's rights in one company in two indexed queries,
 * in one read-only snapshot so the version matches the facts it stamps:
 * 1. version, membership and company-role permissions (primary keys);
 * 2. project grants, direct and through teams (index lookups, see grantsQuery).
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

  const grants = await grantsQuery(trx, companyId, userId).execute();

  return {
    ...base,
    projectGrants: grants.map((g) => ({ projectId: g.project_id, roleKey: g.role_key, teamId: g.team_id, permissions: g.permissions })),
  };
}

/**
 * A principal's project grants, held directly and through teams, with their roles'
 * permissions. Two branches joined by UNION ALL (a grant names a user or a team, never
 * both) rather than one OR: each branch is an index lookup on (company, user) or
 * (company, team), where an OR lets the planner scan every grant of the company.
 */
export function grantsQuery(db: Kysely<Database>, companyId: string, userId: string) {
  const direct = db
    .selectFrom('project_grants as g')
    .innerJoin('project_roles as pr', (join) => join.onRef('pr.company_id', '=', 'g.company_id').onRef('pr.key', '=', 'g.role_key'))
    .select(['g.id', 'g.project_id', 'g.role_key', 'g.team_id', 'pr.permissions'])
    .where('g.company_id', '=', companyId)
    .where('g.user_id', '=', userId);
  const throughTeams = db
    .selectFrom('team_members as tm')
    .innerJoin('project_grants as g', (join) => join.onRef('g.company_id', '=', 'tm.company_id').onRef('g.team_id', '=', 'tm.team_id'))
    .innerJoin('project_roles as pr', (join) => join.onRef('pr.company_id', '=', 'g.company_id').onRef('pr.key', '=', 'g.role_key'))
    .select(['g.id', 'g.project_id', 'g.role_key', 'g.team_id', 'pr.permissions'])
    .where('tm.company_id', '=', companyId)
    .where('tm.user_id', '=', userId)
    // Spelled out so the partial index on team grants (where team_id is not null) applies.
    .where('g.team_id', 'is not', null);
  return direct.unionAll(throughTeams).orderBy('id');
}

/** EXPLAIN of the loader's grants query, for the bench's report. */
export const explainGrantsQuery = (companyId: string, userId: string) => ({
  compile: (db: Kysely<Database>) => sql`explain ${grantsQuery(db, companyId, userId)}`.compile(db),
});
