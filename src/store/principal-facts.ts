import { sql, type Kysely, type Transaction } from 'kysely';
import type { StoredPrincipal } from '../policy/compiler.js';
import type { Database, StoredPermission } from './schema.js';

/** A principal's stored facts in one company, stamped with the version they were read at. */
export interface LoadedPrincipal extends StoredPrincipal {
  /** The company's policy version the facts were read at; null when the company id was never used. */
  version: string | null;
  projectGrants: Array<{ projectId: string; roleKey: string; teamId: string | null; permissions: StoredPermission[] }>;
  /** The company's registered project ids, when they were asked for and read (see LoadOptions). */
  projectIds?: string[];
}

export interface LoadOptions {
  /**
   * Also read the company's registered project ids in the same snapshot, unless the snapshot
   * turns out to be at this version (the caller holds that version's list already); null reads
   * them whatever the version. Left out, they are not read.
   */
  projectsUnlessAt?: string | null;
}

/** The company's registered project ids and the policy version they were read at (null: no such company). */
export interface CompanyProjects {
  version: string | null;
  ids: string[];
}

/**
 * Loads what decides one principal's rights in one company in two indexed queries (three
 * when the company's project list is asked for), in one read-only snapshot so the version
 * matches the facts it stamps:
 * 1. version, membership and company-role permissions (primary keys);
 * 2. project grants, direct and through teams (index lookups, see grantsQuery);
 * 3. the registered project ids (the projects primary key's prefix).
 */
export async function loadPrincipalFacts(db: Kysely<Database>, companyId: string, userId: string, options: LoadOptions = {}): Promise<LoadedPrincipal> {
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute((trx) => loadPrincipalFactsIn(trx, companyId, userId, options));
}

/** The same queries inside a transaction the caller already holds (admin writes authorise inside theirs). */
export async function loadPrincipalFactsIn(trx: Transaction<Database>, companyId: string, userId: string, options: LoadOptions = {}): Promise<LoadedPrincipal> {
  const facts = await principalFactsIn(trx, companyId, userId);
  const wanted = options.projectsUnlessAt !== undefined && (facts.version === null || facts.version !== options.projectsUnlessAt);
  if (!wanted) return facts;
  return { ...facts, projectIds: facts.version === null ? [] : await projectIdsQuery(trx, companyId).execute().then((rows) => rows.map((r) => r.id)) };
}

async function principalFactsIn(trx: Transaction<Database>, companyId: string, userId: string): Promise<LoadedPrincipal> {
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

const projectIdsQuery = (db: Kysely<Database>, companyId: string) => db.selectFrom('projects').select('id').where('company_id', '=', companyId);

/**
 * The company's registered project ids with its policy version, in one statement (so one
 * snapshot, without a transaction's extra round trips).
 */
export async function loadCompanyProjects(db: Kysely<Database>, companyId: string): Promise<CompanyProjects> {
  const row = await db
    .selectFrom('policy_versions as v')
    .select((eb) => [
      'v.version',
      eb
        .fn<string[] | null>('array', [eb.selectFrom('projects as p').select('p.id').whereRef('p.company_id', '=', 'v.company_id')])
        .as('ids'),
    ])
    .where('v.company_id', '=', companyId)
    .executeTakeFirst();
  return row ? { version: String(row.version), ids: row.ids ?? [] } : { version: null, ids: [] };
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
