import { createHash } from 'node:crypto';
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { StoredPrincipal } from '../policy/compiler.js';
import { onEachKeptConnection, preparedQueryOf } from './database.js';
import type { CompanyRole, Database, MembershipStatus, StoredPermission } from './schema.js';

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
 * Loads what decides one principal's rights in one company in one statement, so one round
 * trip and one snapshot (a statement sees the database as of its start): the version, the
 * membership and its company role's permissions by primary key; the project grants, direct
 * and through teams, by index (see the covering indexes of migration 0005), each role's
 * permissions once rather than once per grant; and the company's registered project ids
 * when asked for. No transaction: BEGIN and COMMIT were two round trips of five.
 */
export async function loadPrincipalFacts(db: Kysely<Database>, companyId: string, userId: string, options: LoadOptions = {}): Promise<LoadedPrincipal> {
  return principalFactsIn(db, companyId, userId, options);
}

/** The same statement inside a transaction the caller already holds (admin writes authorise inside theirs). */
export async function loadPrincipalFactsIn(trx: Transaction<Database>, companyId: string, userId: string, options: LoadOptions = {}): Promise<LoadedPrincipal> {
  return principalFactsIn(trx, companyId, userId, options);
}

/** One row as the load statement returns it. */
export interface PrincipalLoadRow {
  version: string;
  status: MembershipStatus | null;
  role: CompanyRole | null;
  owner: boolean | null;
  application_access: boolean | null;
  developer_access: boolean | null;
  role_permissions: StoredPermission[] | null;
  /** [role key, team id, project ids] of each role and path granted, in order of their first grant; null unless the membership is active. */
  grants: Array<[string, string | null, string[]]> | null;
  /** The permissions of each project role the grants name. */
  roles: Record<string, StoredPermission[]> | null;
  /** Null unless asked for and the snapshot is not at the version the caller holds. */
  project_ids: string[] | null;
}

/**
 * The statement of a load. Parameters: company, user, whether to read the project ids, and
 * the version whose project ids the caller holds (they are then left out). Grants come
 * grouped by role and path (team, or none for direct grants), each group's project ids in
 * one JSON array, the groups in the order of their first grant's id (the order the compiler
 * meets them in, grant by grant): one small JSON value where a value per grant cost
 * PostgreSQL and JSON.parse twice as long for thousands of grants. Within a group the ids
 * come in index order (project id, within a user or a team), so the compiler's sort of them
 * is a pass over a sorted list on a database with a byte-order collation. Direct grants
 * name no team: spelled as a null constant, the team column is not read, so the user index
 * answers alone. A team's grants are one index probe per team of the principal: `offset 0`
 * keeps the lateral subquery a subquery, where a plain join let the generic plan merge-join
 * every team grant of the company.
 */
export const PRINCIPAL_LOAD_SQL = `with grants as (
  select g.id, g.project_id, g.role_key, null::text as team_id from project_grants g
   where g.company_id = $1 and g.user_id = $2
  union all
  select g.id, g.project_id, g.role_key, g.team_id from team_members tm
    cross join lateral (
      select g.id, g.project_id, g.role_key, g.team_id from project_grants g
       where g.company_id = tm.company_id and g.team_id = tm.team_id and g.team_id is not null
      offset 0
    ) g
   where tm.company_id = $1 and tm.user_id = $2
),
groups as (
  select role_key, team_id, min(id) as first_grant, json_agg(project_id) as project_ids from grants group by role_key, team_id
)
select v.version::text as version, m.status, m.role, m.owner, m.application_access, m.developer_access, r.permissions as role_permissions,
  case when m.status = 'active' then (select json_agg(json_build_array(role_key, team_id, project_ids) order by first_grant) from groups) end as grants,
  case when m.status = 'active' then (select json_object_agg(pr.key, pr.permissions) from project_roles pr where pr.company_id = $1 and pr.key in (select role_key from groups)) end as roles,
  case when $3::boolean and v.version::text is distinct from $4::text then coalesce((select json_agg(p.id) from projects p where p.company_id = $1), '[]'::json) end as project_ids
from policy_versions v
left join memberships m on m.company_id = v.company_id and m.user_id = $2
left join company_role_permissions r on r.company_id = v.company_id and r.role = m.role
where v.company_id = $1`;

/**
 * The load statement's name on each connection that prepared it, named after its text: a
 * pooler that hands one server connection to several clients (PgBouncer in transaction mode)
 * may run a statement another instance prepared, and during a rolling deploy that instance
 * may be of another version, whose statement returns rows of another shape.
 */
const PRINCIPAL_LOAD_STATEMENT = `castellan_principal_load_${createHash('sha256').update(PRINCIPAL_LOAD_SQL).digest('hex').slice(0, 12)}`;

export const principalLoadParameters = (companyId: string, userId: string, options: LoadOptions): unknown[] => [
  companyId,
  userId,
  options.projectsUnlessAt !== undefined,
  options.projectsUnlessAt ?? null,
];

/**
 * Opens the pool's kept connections and runs the load statement once on each, for no one:
 * each backend then holds the statement prepared and the catalog entries of the tables and
 * indexes it reads, so the first cold loads after a start do not pay for them.
 */
export async function warmPrincipalLoads(db: Kysely<Database>): Promise<void> {
  await onEachKeptConnection(db)?.((query) => query(PRINCIPAL_LOAD_STATEMENT, PRINCIPAL_LOAD_SQL, principalLoadParameters('', '', {})));
}

async function principalFactsIn(db: Kysely<Database>, companyId: string, userId: string, options: LoadOptions): Promise<LoadedPrincipal> {
  const parameters = principalLoadParameters(companyId, userId, options);
  const prepared = preparedQueryOf(db);
  const rows = prepared
    ? await prepared<PrincipalLoadRow>(PRINCIPAL_LOAD_STATEMENT, PRINCIPAL_LOAD_SQL, parameters)
    : (await db.executeQuery<PrincipalLoadRow>(CompiledQuery.raw(PRINCIPAL_LOAD_SQL, parameters))).rows;
  return principalFromRow(rows[0], options);
}

/** The facts a load statement's row holds (undefined: no such company). */
export function principalFromRow(row: PrincipalLoadRow | undefined, options: LoadOptions): LoadedPrincipal {
  const wanted = options.projectsUnlessAt !== undefined;
  if (!row) return { version: null, membership: null, companyRolePermissions: null, projectGrants: [], ...(wanted ? { projectIds: [] } : {}) };
  const projectIds = row.project_ids ? { projectIds: row.project_ids } : {};
  if (!row.status || !row.role) return { version: row.version, membership: null, companyRolePermissions: null, projectGrants: [], ...projectIds };
  const membership = {
    status: row.status,
    role: row.role,
    owner: row.owner === true,
    applicationAccess: row.application_access === true,
    developerAccess: row.developer_access === true,
  };
  const roles = row.roles ?? {};
  const projectGrants: LoadedPrincipal['projectGrants'] = [];
  for (const [roleKey, teamId, projectIds] of row.grants ?? []) {
    // Another statement's rows (see PRINCIPAL_LOAD_STATEMENT) must fail the load, not be read as grants.
    if (!Array.isArray(projectIds)) throw new Error('the principal load returned grants of an unexpected shape');
    // A grant of a role that is gone decides nothing (the role's foreign key is checked at commit).
    if (!Object.hasOwn(roles, roleKey)) continue;
    const permissions = roles[roleKey]!;
    for (const projectId of projectIds) projectGrants.push({ projectId, roleKey, teamId, permissions });
  }
  return { version: row.version, membership, companyRolePermissions: row.role_permissions ?? null, projectGrants, ...projectIds };
}

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
