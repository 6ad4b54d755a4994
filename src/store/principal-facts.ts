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
 * The statement of a load, with or without the company's project ids. Parameters: company,
 * user, and (with the ids) the version whose ids the caller holds, which leaves them out
 * when the snapshot is at it (null: read them whatever the version). Grants come
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
 *
 * Two statements rather than one with a switch: a prepared statement is planned for its
 * parameters on each of its first five runs, and from then on PostgreSQL keeps a generic
 * plan only if that plan's estimate is no worse than theirs. The company's whole project list,
 * in the generic plan whatever the switch, made it look dearer than every custom plan, so
 * every cold load was planned again (0.6 to 1 ms of the backend's time for 0.2 ms of
 * execution). Without it, the generic plan is kept and a load is bound and run.
 */
function principalLoadSql(withProjects: boolean): string {
  const projectIds = withProjects
    ? `case when v.version::text is distinct from $3::text then coalesce((select json_agg(p.id) from projects p where p.company_id = $1), '[]'::json) end as project_ids`
    : 'null::json as project_ids';
  return `with grants as (
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
  ${projectIds}
from policy_versions v
left join memberships m on m.company_id = v.company_id and m.user_id = $2
left join company_role_permissions r on r.company_id = v.company_id and r.role = m.role
where v.company_id = $1`;
}

/** The load of nearly every cold principal: the caller holds the company's project list (parameters: company, user). */
export const PRINCIPAL_LOAD_SQL = principalLoadSql(false);
/** The load that also reads the project list (parameters: company, user, the version of the list the caller holds or null). */
export const PRINCIPAL_LOAD_WITH_PROJECTS_SQL = principalLoadSql(true);

/**
 * A load statement's name on each connection that prepared it, named after its text: a
 * pooler that hands one server connection to several clients (PgBouncer in transaction mode)
 * may run a statement another instance prepared, and during a rolling deploy that instance
 * may be of another version, whose statement returns rows of another shape.
 */
const statementName = (text: string) => `castellan_principal_load_${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
const PRINCIPAL_LOAD_STATEMENT = statementName(PRINCIPAL_LOAD_SQL);
const PRINCIPAL_LOAD_WITH_PROJECTS_STATEMENT = statementName(PRINCIPAL_LOAD_WITH_PROJECTS_SQL);

/**
 * Opens the pool's kept connections and runs both load statements once on each, for no one:
 * each backend then holds them prepared and the catalog entries of the tables and indexes
 * they read, so the first cold loads after a start do not pay for them.
 */
export async function warmPrincipalLoads(db: Kysely<Database>): Promise<void> {
  await onEachKeptConnection(db)?.(async (query) => {
    await query(PRINCIPAL_LOAD_STATEMENT, PRINCIPAL_LOAD_SQL, ['', '']);
    await query(PRINCIPAL_LOAD_WITH_PROJECTS_STATEMENT, PRINCIPAL_LOAD_WITH_PROJECTS_SQL, ['', '', null]);
  });
}

async function runLoad(db: Kysely<Database>, name: string, text: string, parameters: unknown[]): Promise<PrincipalLoadRow | undefined> {
  const prepared = preparedQueryOf(db);
  const rows = prepared ? await prepared<PrincipalLoadRow>(name, text, parameters) : (await db.executeQuery<PrincipalLoadRow>(CompiledQuery.raw(text, parameters))).rows;
  return rows[0];
}

/**
 * The list is read in the same statement as the facts, so both are of one snapshot. When the
 * caller holds a list, the load leaves it out, and only if the company turns out to have
 * moved past that list's version is it run again with the list: one more round trip on the
 * first load after a write, rather than a generic plan lost on every load.
 */
async function principalFactsIn(db: Kysely<Database>, companyId: string, userId: string, options: LoadOptions): Promise<LoadedPrincipal> {
  const held = options.projectsUnlessAt;
  if (held !== null) {
    const row = await runLoad(db, PRINCIPAL_LOAD_STATEMENT, PRINCIPAL_LOAD_SQL, [companyId, userId]);
    if (held === undefined || row === undefined || row.version === held) return principalFromRow(row, options);
  }
  const row = await runLoad(db, PRINCIPAL_LOAD_WITH_PROJECTS_STATEMENT, PRINCIPAL_LOAD_WITH_PROJECTS_SQL, [companyId, userId, held ?? null]);
  return principalFromRow(row, options);
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
