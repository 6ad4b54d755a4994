import { sql, type Kysely, type Transaction } from 'kysely';
import { ConflictError, ForbiddenError, NotFoundError } from '../../errors.js';
import { CREATOR_PROJECT_ROLE } from '../../policy/types.js';
import { isUniqueViolation } from '../../store/errors.js';
import type { Database } from '../../store/schema.js';
import { assertActiveMember, assertCan, can, isAdmin, type Caller, type CallerRights, type Need } from '../context.js';
import { allows } from '../escalation.js';
import { assertHoldsProjectRole, loadProjectRolePermissions } from '../project-grants.js';
import { readCompany, writeCompany, type WriteDeps } from '../transaction.js';
import { grantStep, grantTarget, projectTarget, registerStep, rolesToHold, type Grantee } from './decisions.js';
import { decodeProjectCursor, encodeProjectCursor, type ProjectListQuery, type ProjectMembers, type ProjectPage, type ProjectView, type RegisterProjectInput } from './schemas.js';

type Db = Kysely<Database> | Transaction<Database>;

interface ProjectRow {
  id: string;
  name: string;
  created_by: string | null;
  created_at: Date;
}

const toView = (row: ProjectRow): ProjectView => ({ id: row.id, name: row.name, createdBy: row.created_by, createdAt: new Date(row.created_at).toISOString() });

async function findProject(db: Db, companyId: string, projectId: string): Promise<ProjectRow | undefined> {
  return db.selectFrom('projects').select(['id', 'name', 'created_by', 'created_at']).where('company_id', '=', companyId).where('id', '=', projectId).executeTakeFirst();
}

async function loadProject(db: Db, companyId: string, projectId: string): Promise<ProjectRow> {
  const project = await findProject(db, companyId, projectId);
  if (!project) throw new NotFoundError(`project ${projectId} not found`, { projectId });
  return project;
}

/** D1: grantees are memberships (any status: an invited user's grant waits for them) or teams of this company. */
async function assertGrantee(db: Db, companyId: string, grantee: Grantee): Promise<void> {
  const found =
    grantee.kind === 'user'
      ? await db.selectFrom('memberships').select('user_id as id').where('company_id', '=', companyId).where('user_id', '=', grantee.id).executeTakeFirst()
      : await db.selectFrom('teams').select('id').where('company_id', '=', companyId).where('id', '=', grantee.id).executeTakeFirst();
  if (!found) {
    throw grantee.kind === 'user'
      ? new NotFoundError(`member ${grantee.id} not found`, { userId: grantee.id })
      : new NotFoundError(`team ${grantee.id} not found`, { teamId: grantee.id });
  }
}

const granteeColumn = (grantee: Grantee) => (grantee.kind === 'user' ? 'user_id' : 'team_id');

async function currentRole(db: Db, companyId: string, projectId: string, grantee: Grantee): Promise<string | null> {
  const grant = await db
    .selectFrom('project_grants')
    .select('role_key')
    .where('company_id', '=', companyId)
    .where('project_id', '=', projectId)
    .where(granteeColumn(grantee), '=', grantee.id)
    .executeTakeFirst();
  return grant?.role_key ?? null;
}

const grantView = (grantee: Grantee, role: string) => (grantee.kind === 'user' ? { userId: grantee.id, role } : { teamId: grantee.id, role });

// Each write's first assertion: checked before the company lock, and again under it (see writeCompany).
/** Whoever could have registered the project or may rename it; the rest learn nothing about it. */
const mayRegister = (projectId: string) => (rights: CallerRights) => {
  if (!can(rights, { action: 'edit', subject: 'Project', attributes: { id: projectId } })) assertCan(rights, { action: 'create', subject: 'Project' });
};
const mayDelete = (projectId: string): Need => ({ action: 'delete', subject: 'Project', attributes: { id: projectId } });
/** Whoever has no say over this project's members learns nothing about the project, the grantee or the role. */
const maySayOverMembers = (projectId: string) => (rights: CallerRights) => {
  if (!can(rights, { action: 'edit', subject: 'ProjectMember', attributes: { projectId } })) assertCan(rights, { action: 'invite', subject: 'ProjectMember', attributes: { projectId } });
};
const mayRemoveMembers = (projectId: string): Need => ({ action: 'remove', subject: 'ProjectMember', attributes: { projectId } });

export function createProjectsService(deps: WriteDeps) {
  const { db, policies } = deps;
  const catalog = policies.catalog;
  const assertHoldsRoles = async (trx: Transaction<Database>, rights: CallerRights, projectId: string, roleKeys: readonly string[]) => {
    for (const roleKey of roleKeys) await assertHoldsProjectRole(trx, rights, catalog, projectId, roleKey);
  };

  /** One batch of candidates after `after`, in id order, with their grant counts. */
  const candidates = (companyId: string, after: string | undefined, only: readonly string[] | null, limit: number) => {
    let query = db
      .selectFrom('projects as p')
      .select([
        'p.id',
        'p.name',
        'p.created_by',
        'p.created_at',
        sql<number>`(select count(*)::int from project_grants g where g.company_id = p.company_id and g.project_id = p.id and g.user_id is not null)`.as('member_count'),
        sql<number>`(select count(*)::int from project_grants g where g.company_id = p.company_id and g.project_id = p.id and g.team_id is not null)`.as('team_count'),
      ])
      .where('p.company_id', '=', companyId);
    if (after !== undefined) query = query.where('p.id', '>', after);
    if (only !== null) query = query.where('p.id', 'in', only);
    return query.orderBy('p.id').limit(limit).execute();
  };

  return {
    /**
     * The projects the caller may view (D8, D18: every project for roles that see all of them,
     * else those granted to them directly or through a team), a page at a time in id order.
     * Each one is decided as /v1/check decides `view Project` on it, so a restriction a role
     * carries hides what it denies; a page is filled past the projects it hides.
     */
    async list(caller: Caller, companyId: string, query: ProjectListQuery): Promise<ProjectPage> {
      return readCompany(deps, caller, companyId, async (rights) => {
        assertActiveMember(rights);
        const everywhere = allows(rights.ability, catalog, { action: 'view', subject: 'Project' });
        const only = everywhere ? null : rights.grantedProjects;
        const visible: ProjectPage['projects'] = [];
        let after = query.after === undefined ? undefined : decodeProjectCursor(query.after)!;
        if (only?.length === 0) return { projects: [], next: null };
        for (;;) {
          const batchSize = query.limit + 1 - visible.length;
          const rows = await candidates(companyId, after, only, batchSize);
          for (const row of rows) {
            after = row.id;
            if (can(rights, { action: 'view', subject: 'Project', attributes: { id: row.id } })) {
              visible.push({ ...toView(row), memberCount: row.member_count, teamCount: row.team_count });
            }
          }
          if (visible.length > query.limit || rows.length < batchSize) break;
        }
        const page = visible.slice(0, query.limit);
        return { projects: page, next: visible.length > query.limit ? encodeProjectCursor(page.at(-1)!.id) : null };
      });
    },

    /**
     * D15: registers a project; its creator gets project-admin on it. Idempotent: the same
     * name again changes nothing (and keeps the version); another name renames it.
     */
    async register(caller: Caller, companyId: string, projectId: string, input: RegisterProjectInput): Promise<ProjectView & { version: string; created: boolean }> {
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit, changing }) => {
        const scope = { id: projectId };
        const existing = await findProject(trx, companyId, projectId);
        const step = registerStep(existing, input.name);
        if (existing && step === 'unchanged') {
          // A repeat by whoever could have registered or renamed it; others learn nothing more than from a create.
          mayRegister(projectId)(rights);
          return { project: toView(existing), created: false };
        }
        if (existing && step === 'rename') {
          assertCan(rights, { action: 'edit', subject: 'Project', attributes: scope });
          await trx.updateTable('projects').set({ name: input.name }).where('company_id', '=', companyId).where('id', '=', projectId).execute();
          audit({ action: 'project.rename', target: projectTarget(projectId), before: { name: existing.name }, after: { name: input.name } });
          return { project: toView({ ...existing, name: input.name }), created: false };
        }

        assertCan(rights, { action: 'create', subject: 'Project' });
        const creatorId = input.creatorId ?? caller.sub;
        // D23: the creator receives project-admin; only an admin hands that to someone else.
        if (creatorId !== caller.sub && !isAdmin(rights)) throw new ForbiddenError('only admins register a project for another creator', { creatorId });
        const creator = await trx.selectFrom('memberships').select('status').where('company_id', '=', companyId).where('user_id', '=', creatorId).executeTakeFirst();
        if (!creator) throw new NotFoundError(`member ${creatorId} not found`, { creatorId });
        // An invited or inactive creator's project-admin grant would silently give nobody the project.
        if (creator.status !== 'active') throw new ConflictError(`the creator ${creatorId} is not an active member (status ${creator.status})`, { creatorId, status: creator.status });
        const adminRole = await trx.selectFrom('project_roles').select('key').where('company_id', '=', companyId).where('key', '=', CREATOR_PROJECT_ROLE).executeTakeFirst();
        if (!adminRole) throw new ConflictError(`the company has no ${CREATOR_PROJECT_ROLE} project role to give the creator`, { role: CREATOR_PROJECT_ROLE });

        await changing();
        let row: ProjectRow;
        try {
          row = await trx
            .insertInto('projects')
            .values({ company_id: companyId, id: projectId, name: input.name, created_by: creatorId })
            .returning(['id', 'name', 'created_by', 'created_at'])
            .executeTakeFirstOrThrow();
        } catch (error) {
          // Writers of one company are serialised, so this only guards against a write outside the API.
          if (isUniqueViolation(error, 'projects_pk')) throw new ConflictError(`project ${projectId} was registered concurrently; retry`, { projectId });
          throw error;
        }
        await trx.insertInto('project_grants').values({ company_id: companyId, project_id: projectId, role_key: CREATOR_PROJECT_ROLE, user_id: creatorId }).execute();
        const project = toView(row);
        audit({ action: 'project.register', target: projectTarget(projectId), after: project });
        audit({ action: 'project.grant.user.put', target: grantTarget(projectId, { kind: 'user', id: creatorId }), after: { role: CREATOR_PROJECT_ROLE } });
        return { project, created: true };
      }, { bump: 'on-change', ownRights: 'may-grow', authorise: mayRegister(projectId) }); // D15: a project's creator administers it
      return { ...result.project, created: result.created, version };
    },

    /** D19: the project's grants go with it in the same commit (they cascade). */
    async remove(caller: Caller, companyId: string, projectId: string): Promise<{ version: string }> {
      const { version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, mayDelete(projectId));
        const project = await loadProject(trx, companyId, projectId);
        const members = await listGrants(trx, companyId, projectId);
        await trx.deleteFrom('projects').where('company_id', '=', companyId).where('id', '=', projectId).execute();
        audit({ action: 'project.delete', target: projectTarget(projectId), before: { ...toView(project), members } });
      }, { authorise: mayDelete(projectId) });
      return { version };
    },

    async members(caller: Caller, companyId: string, projectId: string): Promise<ProjectMembers> {
      return readCompany(deps, caller, companyId, async (rights) => {
        assertCan(rights, { action: 'view', subject: 'ProjectMember', attributes: { projectId } });
        await loadProject(db, companyId, projectId);
        return listGrants(db, companyId, projectId);
      });
    },

    /**
     * Puts a grantee on a project with one role (D17). A new grant needs invite
     * ProjectMember, a changed role edit ProjectMember; the same role again changes nothing.
     */
    async putGrant(caller: Caller, companyId: string, projectId: string, grantee: Grantee, roleKey: string) {
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit, changing }) => {
        const scope = { projectId };
        maySayOverMembers(projectId)(rights);
        await loadProject(trx, companyId, projectId);
        await assertGrantee(trx, companyId, grantee);
        await loadProjectRolePermissions(trx, companyId, roleKey);
        const current = await currentRole(trx, companyId, projectId, grantee);
        const step = grantStep(current, roleKey);
        if (step === 'unchanged') return { body: grantView(grantee, roleKey), created: false };

        assertCan(rights, { action: step, subject: 'ProjectMember', attributes: scope });
        await assertHoldsRoles(trx, rights, projectId, rolesToHold(current, roleKey));
        await changing();
        if (current === null) {
          await trx.insertInto('project_grants').values({ company_id: companyId, project_id: projectId, role_key: roleKey, [granteeColumn(grantee)]: grantee.id }).execute();
        } else {
          await trx
            .updateTable('project_grants')
            .set({ role_key: roleKey })
            .where('company_id', '=', companyId)
            .where('project_id', '=', projectId)
            .where(granteeColumn(grantee), '=', grantee.id)
            .execute();
        }
        audit({
          action: `project.grant.${grantee.kind}.put`,
          target: grantTarget(projectId, grantee),
          ...(current === null ? {} : { before: { role: current } }),
          after: { role: roleKey },
        });
        return { body: grantView(grantee, roleKey), created: current === null };
      }, { bump: 'on-change', authorise: maySayOverMembers(projectId) });
      return { ...result, version };
    },

    /** D19: the grantee loses the role on the project at once. No such grant: 404. */
    async deleteGrant(caller: Caller, companyId: string, projectId: string, grantee: Grantee): Promise<{ version: string }> {
      const { version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, mayRemoveMembers(projectId));
        await loadProject(trx, companyId, projectId);
        await assertGrantee(trx, companyId, grantee);
        const current = await currentRole(trx, companyId, projectId, grantee);
        if (current === null) throw new NotFoundError(`${grantee.kind} ${grantee.id} has no role on project ${projectId}`, { projectId, [`${grantee.kind}Id`]: grantee.id });
        await assertHoldsRoles(trx, rights, projectId, rolesToHold(current, null));
        await trx.deleteFrom('project_grants').where('company_id', '=', companyId).where('project_id', '=', projectId).where(granteeColumn(grantee), '=', grantee.id).execute();
        audit({ action: `project.grant.${grantee.kind}.delete`, target: grantTarget(projectId, grantee), before: { role: current } });
      }, { authorise: mayRemoveMembers(projectId) });
      return { version };
    },
  };
}

/** Code-point order, the same on every machine (ids are ASCII). */
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function listGrants(db: Db, companyId: string, projectId: string): Promise<ProjectMembers> {
  const grants = await db
    .selectFrom('project_grants')
    .select(['user_id', 'team_id', 'role_key'])
    .where('company_id', '=', companyId)
    .where('project_id', '=', projectId)
    .execute();
  const users = grants.flatMap((g) => (g.user_id === null ? [] : [{ userId: g.user_id, role: g.role_key }])).sort((a, b) => byKey(a.userId, b.userId));
  const teams = grants.flatMap((g) => (g.team_id === null ? [] : [{ teamId: g.team_id, role: g.role_key }])).sort((a, b) => byKey(a.teamId, b.teamId));
  return { users, teams };
}

export type ProjectsService = ReturnType<typeof createProjectsService>;
