import { sql, type Kysely, type Transaction } from 'kysely';
import type { CompanyRole, Database, StoredPermission } from './schema.js';

/** What decides who may do something in a company, read in one snapshot with the page itself. */
export interface SubjectSearchFacts {
  /** The company's policy version the facts were read at. */
  version: string;
  /** Whether the project the question names is registered (false when it names none). */
  projectRegistered: boolean;
  /** The company's stored permissions per editable company role (absent: the policy files' default). */
  companyRolePermissions: Partial<Record<CompanyRole, StoredPermission[]>>;
  projectRoles: Array<{ key: string; permissions: StoredPermission[] }>;
}

/** A membership shape that the question allows through the company role and tags alone. */
export interface MembershipShape {
  role: CompanyRole;
  owner?: boolean;
  applicationAccess?: boolean;
  developerAccess?: boolean;
}

/** Which memberships may: those of these shapes, and those granted one of these project roles on the project, directly or through a team. */
export interface SubjectFilter {
  shapes: MembershipShape[];
  projectId: string | null;
  projectRoleKeys: string[];
}

export interface SubjectPage {
  version: string | null;
  /** Up to `limit + 1` user ids after the cursor, in order: one more than asked says another page exists. */
  userIds: string[];
}

/** Turns the facts into the filter, and remembers the newest it made for the same question. */
export interface SubjectPlanner {
  latest(): { version: string; filter: SubjectFilter } | undefined;
  make(facts: SubjectSearchFacts): SubjectFilter;
}

/**
 * The page query: an index scan of the memberships primary key (company, user) after the
 * cursor, stopped at `limit + 1` matches, each membership checked against the shapes and
 * with index lookups of its grants (project_grants_user_unique, and team_members_user_idx
 * then project_grants_team_unique). So a page costs the rows it reads, not the company's
 * size, unless few members match. Null when nothing can match.
 */
function pageQuery(db: Kysely<Database>, companyId: string, filter: SubjectFilter, page: { after: string | null; limit: number }) {
  const grantKeys = filter.projectId !== null && filter.projectRoleKeys.length ? filter.projectRoleKeys : null;
  if (filter.shapes.length === 0 && grantKeys === null) return null;
  // Plain SQL so the one list serves both forms of the query.
  const shapes = filter.shapes.map(
    (shape) =>
      sql<boolean>`(m.role = ${shape.role}${shape.owner === undefined ? sql`` : sql` and m.owner = ${shape.owner}`}${
        shape.applicationAccess === undefined ? sql`` : sql` and m.application_access = ${shape.applicationAccess}`
      }${shape.developerAccess === undefined ? sql`` : sql` and m.developer_access = ${shape.developerAccess}`})`,
  );
  const base = db
    .selectFrom('memberships as m')
    .select('m.user_id')
    .where('m.company_id', '=', companyId)
    .where('m.status', '=', 'active')
    .$if(page.after !== null, (qb) => qb.where('m.user_id', '>', page.after!))
    .orderBy('m.user_id')
    .limit(page.limit + 1);
  if (grantKeys === null) return base.where((eb) => eb.or(shapes));
  return (
    base
      // Lateral, not EXISTS: PostgreSQL would hash an EXISTS over every grant of the project
      // (of every company naming one like it) before the first row; a lateral lookup is one
      // index probe per membership read, and the scan stops at the page's limit.
      .leftJoinLateral(
        (eb) =>
          eb
            .selectFrom('project_grants as g')
            .select(sql<number>`1`.as('hit'))
            .whereRef('g.company_id', '=', 'm.company_id')
            .whereRef('g.user_id', '=', 'm.user_id')
            .where('g.project_id', '=', filter.projectId!)
            .where('g.role_key', 'in', grantKeys)
            .limit(1)
            .as('direct'),
        (join) => join.onTrue(),
      )
      .leftJoinLateral(
        (eb) =>
          eb
            .selectFrom('team_members as tm')
            .innerJoin('project_grants as g', (join) => join.onRef('g.company_id', '=', 'tm.company_id').onRef('g.team_id', '=', 'tm.team_id'))
            .select(sql<number>`1`.as('hit'))
            .whereRef('tm.company_id', '=', 'm.company_id')
            .whereRef('tm.user_id', '=', 'm.user_id')
            .where('g.project_id', '=', filter.projectId!)
            .where('g.role_key', 'in', grantKeys)
            .limit(1)
            .as('teamed'),
        (join) => join.onTrue(),
      )
      .where((eb) => eb.or([...shapes, eb('direct.hit', 'is not', null), eb('teamed.hit', 'is not', null)]))
  );
}

/**
 * One page of the active members the filter allows, ordered by user id after `after`, with
 * the version it was read at. The filter must come from facts of that same version. Paging
 * asks the same question page after page, so the planner's newest filter is tried first, in
 * one statement that reads the version beside the page (one snapshot, no transaction); only
 * when the company has moved on are the facts read and the filter made again, inside a
 * repeatable-read transaction with the page.
 */
export async function searchSubjects(
  db: Kysely<Database>,
  companyId: string,
  projectId: string | null,
  planner: SubjectPlanner,
  page: { after: string | null; limit: number },
): Promise<SubjectPage> {
  const latest = planner.latest();
  const optimistic = latest ? pageQuery(db, companyId, latest.filter, page) : null;
  if (latest && optimistic) {
    const rows = await db
      .selectFrom('policy_versions as v')
      .leftJoinLateral(optimistic.as('p'), (join) => join.onTrue())
      .select(['v.version', 'p.user_id'])
      .where('v.company_id', '=', companyId)
      .orderBy('p.user_id')
      .execute();
    if (rows.length === 0) return { version: null, userIds: [] };
    if (String(rows[0]!.version) === latest.version) return { version: latest.version, userIds: rows.flatMap((r) => (r.user_id === null ? [] : [r.user_id])) };
  }
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const row = await trx.selectFrom('policy_versions').select('version').where('company_id', '=', companyId).executeTakeFirst();
      if (!row) return { version: null, userIds: [] };
      const version = String(row.version);
      const known = latest?.version === version ? latest.filter : undefined;
      const query = pageQuery(trx, companyId, known ?? planner.make(await readFacts(trx, companyId, projectId, version)), page);
      return { version, userIds: query ? (await query.execute()).map((r) => r.user_id) : [] };
    });
}

async function readFacts(trx: Transaction<Database>, companyId: string, projectId: string | null, version: string): Promise<SubjectSearchFacts> {
  const [roles, projectRoles, project] = await Promise.all([
    trx.selectFrom('company_role_permissions').select(['role', 'permissions']).where('company_id', '=', companyId).execute(),
    trx.selectFrom('project_roles').select(['key', 'permissions']).where('company_id', '=', companyId).orderBy('key').execute(),
    projectId === null ? null : trx.selectFrom('projects').select('id').where('company_id', '=', companyId).where('id', '=', projectId).executeTakeFirst(),
  ]);
  return {
    version,
    projectRegistered: Boolean(project),
    companyRolePermissions: Object.fromEntries(roles.map((r) => [r.role, r.permissions])),
    projectRoles: projectRoles.map((r) => ({ key: r.key, permissions: r.permissions })),
  };
}
