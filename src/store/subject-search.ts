import { sql, type Kysely } from 'kysely';
import type { CompanyRole, Database, StoredPermission } from './schema.js';

/** What decides who may do something in a company, read in one snapshot with the page itself. */
export interface SubjectSearchFacts {
  /** The company's policy version; null when the company id was never used. */
  version: string | null;
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

/**
 * One page of the active members the filter allows, ordered by user id after `after`: an
 * index scan of the memberships primary key (company, user) that stops at `limit + 1`
 * matches, each checked with index lookups of its grants (project_grants_user_unique, and
 * team_members_user_idx then project_grants_team_unique). So a page costs the rows it
 * reads, not the company's size, unless few members match. `plan` turns the facts (read in
 * the same snapshot) into the filter.
 */
export async function searchSubjects(
  db: Kysely<Database>,
  companyId: string,
  projectId: string | null,
  plan: (facts: SubjectSearchFacts) => SubjectFilter,
  page: { after: string | null; limit: number },
): Promise<SubjectPage> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const version = await trx.selectFrom('policy_versions').select('version').where('company_id', '=', companyId).executeTakeFirst();
      if (!version) return { version: null, userIds: [] };
      const [roles, projectRoles, project] = await Promise.all([
        trx.selectFrom('company_role_permissions').select(['role', 'permissions']).where('company_id', '=', companyId).execute(),
        trx.selectFrom('project_roles').select(['key', 'permissions']).where('company_id', '=', companyId).orderBy('key').execute(),
        projectId === null ? null : trx.selectFrom('projects').select('id').where('company_id', '=', companyId).where('id', '=', projectId).executeTakeFirst(),
      ]);
      const filter = plan({
        version: String(version.version),
        projectRegistered: Boolean(project),
        companyRolePermissions: Object.fromEntries(roles.map((r) => [r.role, r.permissions])),
        projectRoles: projectRoles.map((r) => ({ key: r.key, permissions: r.permissions })),
      });
      const grantKeys = filter.projectId !== null && filter.projectRoleKeys.length ? filter.projectRoleKeys : null;
      if (filter.shapes.length === 0 && grantKeys === null) return { version: String(version.version), userIds: [] };

      const rows = await trx
        .selectFrom('memberships as m')
        .select('m.user_id')
        .where('m.company_id', '=', companyId)
        .where('m.status', '=', 'active')
        .$if(page.after !== null, (qb) => qb.where('m.user_id', '>', page.after!))
        .where((eb) =>
          eb.or([
            ...filter.shapes.map((shape) =>
              eb.and([
                eb('m.role', '=', shape.role),
                ...(shape.owner === undefined ? [] : [eb('m.owner', '=', shape.owner)]),
                ...(shape.applicationAccess === undefined ? [] : [eb('m.application_access', '=', shape.applicationAccess)]),
                ...(shape.developerAccess === undefined ? [] : [eb('m.developer_access', '=', shape.developerAccess)]),
              ]),
            ),
            ...(grantKeys === null
              ? []
              : [
                  eb.exists(
                    eb
                      .selectFrom('project_grants as g')
                      .select(sql<number>`1`.as('one'))
                      .whereRef('g.company_id', '=', 'm.company_id')
                      .whereRef('g.user_id', '=', 'm.user_id')
                      .where('g.project_id', '=', filter.projectId!)
                      .where('g.role_key', 'in', grantKeys),
                  ),
                  eb.exists(
                    eb
                      .selectFrom('team_members as tm')
                      .innerJoin('project_grants as g', (join) => join.onRef('g.company_id', '=', 'tm.company_id').onRef('g.team_id', '=', 'tm.team_id'))
                      .select(sql<number>`1`.as('one'))
                      .whereRef('tm.company_id', '=', 'm.company_id')
                      .whereRef('tm.user_id', '=', 'm.user_id')
                      .where('g.project_id', '=', filter.projectId!)
                      .where('g.role_key', 'in', grantKeys),
                  ),
                ]),
          ]),
        )
        .orderBy('m.user_id')
        .limit(page.limit + 1)
        .execute();
      return { version: String(version.version), userIds: rows.map((r) => r.user_id) };
    });
}
