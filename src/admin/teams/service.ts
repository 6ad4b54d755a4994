import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { ConflictError, ForbiddenError, NotFoundError } from '../../errors.js';
import { isUniqueViolation } from '../../store/errors.js';
import type { Database } from '../../store/schema.js';
import type { Catalog } from '../../policy/catalog.js';
import { assertCan, can, type Caller, type CallerRights, type Need } from '../context.js';
import { assertHoldsProjectRole } from '../project-grants.js';
import { readCompany, writeCompany, type WriteDeps } from '../transaction.js';
import type { CreateTeamInput, TeamView } from './schemas.js';

type Db = Kysely<Database> | Transaction<Database>;

const newTeamId = () => `t-${randomBytes(6).toString('hex')}`;

/** Groups member rows under their teams; teams without members keep an empty list. */
export function teamViews(teams: ReadonlyArray<{ id: string; name: string }>, members: ReadonlyArray<{ team_id: string; user_id: string }>): TeamView[] {
  const byTeam = new Map<string, string[]>();
  for (const m of members) byTeam.set(m.team_id, [...(byTeam.get(m.team_id) ?? []), m.user_id]);
  return teams.map((t) => ({ id: t.id, name: t.name, members: [...(byTeam.get(t.id) ?? [])].sort() }));
}

async function loadTeams(db: Db, companyId: string, teamId?: string): Promise<TeamView[]> {
  let teams = db.selectFrom('teams').select(['id', 'name']).where('company_id', '=', companyId);
  let members = db.selectFrom('team_members').select(['team_id', 'user_id']).where('company_id', '=', companyId);
  if (teamId !== undefined) {
    teams = teams.where('id', '=', teamId);
    members = members.where('team_id', '=', teamId);
  }
  const [teamRows, memberRows] = await Promise.all([teams.orderBy('id').execute(), members.execute()]);
  return teamViews(teamRows, memberRows);
}

async function loadTeam(db: Db, companyId: string, teamId: string): Promise<TeamView> {
  const [team] = await loadTeams(db, companyId, teamId);
  if (!team) throw new NotFoundError(`team ${teamId} not found`, { teamId });
  return team;
}

/** D1: only a user with a membership (any status) in this company may join its teams. */
async function assertMembership(trx: Transaction<Database>, companyId: string, userId: string): Promise<void> {
  const membership = await trx.selectFrom('memberships').select('user_id').where('company_id', '=', companyId).where('user_id', '=', userId).executeTakeFirst();
  if (!membership) throw new NotFoundError(`member ${userId} not found`, { userId });
}

async function teamGrants(db: Db, companyId: string, teamId: string) {
  return db
    .selectFrom('project_grants')
    .select(['project_id as projectId', 'role_key as role'])
    .where('company_id', '=', companyId)
    .where('team_id', '=', teamId)
    .orderBy('project_id')
    .execute();
}

/**
 * Moving a user into or out of a team grants or revokes each of the team's project roles:
 * it needs what a direct grant or revoke of each needs (D23), the ProjectMember action on
 * the project and every decision of the role there.
 */
async function assertMayMoveMembers(trx: Transaction<Database>, rights: CallerRights, catalog: Catalog, teamId: string, direction: 'invite' | 'remove'): Promise<void> {
  for (const grant of await teamGrants(trx, rights.companyId, teamId)) {
    const need = { action: direction, subject: 'ProjectMember', attributes: { projectId: grant.projectId } };
    if (!can(rights, need)) {
      throw new ForbiddenError(`team ${teamId} holds role ${grant.role} on project ${grant.projectId}: moving its members needs ${direction} ProjectMember there`, {
        teamId,
        projectId: grant.projectId,
        role: grant.role,
        lacking: [{ action: direction, subject: 'ProjectMember', projectId: grant.projectId }],
      });
    }
    await assertHoldsProjectRole(trx, rights, catalog, grant.projectId, grant.role, { teamId });
  }
}

// The user id comes last and team ids ([A-Za-z0-9._:@-]) hold no '/': unambiguous for any user id.
const memberTarget = (teamId: string, userId: string) => `team:${teamId}/user:${userId}`;

// Each write's first assertion: checked before the company lock, and again under it (see writeCompany).
const MAY_CREATE: Need = { action: 'create', subject: 'Team' };
const MAY_EDIT: Need = { action: 'edit', subject: 'Team' };
const MAY_DELETE: Need = { action: 'delete', subject: 'Team' };

export function createTeamsService(deps: WriteDeps) {
  const { db } = deps;
  const { catalog } = deps.policies;

  return {
    async list(caller: Caller, companyId: string): Promise<{ teams: TeamView[] }> {
      return readCompany(deps, caller, companyId, async (rights) => {
        assertCan(rights, { action: 'view', subject: 'Team' });
        return { teams: await loadTeams(db, companyId) };
      });
    },

    async get(caller: Caller, companyId: string, teamId: string): Promise<TeamView> {
      return readCompany(deps, caller, companyId, async (rights) => {
        assertCan(rights, { action: 'view', subject: 'Team' });
        return loadTeam(db, companyId, teamId);
      });
    },

    async create(caller: Caller, companyId: string, input: CreateTeamInput): Promise<TeamView & { version: string }> {
      const teamId = input.id ?? newTeamId();
      const { result, version } = await writeCompany(
        deps,
        caller,
        companyId,
        async ({ trx, rights, audit }) => {
          assertCan(rights, MAY_CREATE);
          try {
            await trx.insertInto('teams').values({ company_id: companyId, id: teamId, name: input.name }).execute();
          } catch (error) {
            if (isUniqueViolation(error, 'teams_pk')) throw new ConflictError(`a team with id ${teamId} already exists`, { teamId });
            throw error;
          }
          const team: TeamView = { id: teamId, name: input.name, members: [] };
          audit({ action: 'team.create', target: `team:${teamId}`, after: team });
          return team;
        },
        // An empty team grants nothing; a team id used before starts without its old grants (they cascaded).
        { bump: 'never', authorise: MAY_CREATE },
      );
      return { ...result, version };
    },

    async rename(caller: Caller, companyId: string, teamId: string, name: string): Promise<TeamView & { version: string }> {
      const { result, version } = await writeCompany(
        deps,
        caller,
        companyId,
        async ({ trx, rights, audit }) => {
          assertCan(rights, MAY_EDIT);
          const team = await loadTeam(trx, companyId, teamId);
          if (team.name === name) return team;
          await trx.updateTable('teams').set({ name }).where('company_id', '=', companyId).where('id', '=', teamId).execute();
          audit({ action: 'team.rename', target: `team:${teamId}`, before: { name: team.name }, after: { name } });
          return { ...team, name };
        },
        { bump: 'never', authorise: MAY_EDIT },
      );
      return { ...result, version };
    },

    /** D19: the team's members lose its project grants in the same commit (the grants cascade). */
    async remove(caller: Caller, companyId: string, teamId: string): Promise<{ version: string }> {
      const { version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, MAY_DELETE);
        const team = await loadTeam(trx, companyId, teamId);
        // Its members lose the team's grants: a revoke of each from each of them.
        if (team.members.length) await assertMayMoveMembers(trx, rights, catalog, teamId, 'remove');
        const grants = await teamGrants(trx, companyId, teamId);
        await trx.deleteFrom('teams').where('company_id', '=', companyId).where('id', '=', teamId).execute();
        audit({ action: 'team.delete', target: `team:${teamId}`, before: { ...team, grants } });
      }, { authorise: MAY_DELETE });
      return { version };
    },

    /** Idempotent: adding a member already in the team changes nothing and keeps the version. */
    async addMember(caller: Caller, companyId: string, teamId: string, userId: string): Promise<TeamView & { version: string }> {
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit, changing }) => {
        assertCan(rights, MAY_EDIT);
        const team = await loadTeam(trx, companyId, teamId);
        await assertMembership(trx, companyId, userId);
        if (team.members.includes(userId)) return team;
        await assertMayMoveMembers(trx, rights, catalog, teamId, 'invite');
        await changing();
        await trx.insertInto('team_members').values({ company_id: companyId, team_id: teamId, user_id: userId }).execute();
        audit({ action: 'team.member.add', target: memberTarget(teamId, userId), after: { teamId, userId } });
        return { ...team, members: [...team.members, userId].sort() };
      }, { bump: 'on-change', authorise: MAY_EDIT });
      return { ...result, version };
    },

    /** D19: the user loses the team's project grants at once. Not in the team: 404. */
    async removeMember(caller: Caller, companyId: string, teamId: string, userId: string): Promise<{ version: string }> {
      const { version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, MAY_EDIT);
        const team = await loadTeam(trx, companyId, teamId);
        if (!team.members.includes(userId)) throw new NotFoundError(`user ${userId} is not a member of team ${teamId}`, { teamId, userId });
        await assertMayMoveMembers(trx, rights, catalog, teamId, 'remove');
        await trx.deleteFrom('team_members').where('company_id', '=', companyId).where('team_id', '=', teamId).where('user_id', '=', userId).execute();
        audit({ action: 'team.member.remove', target: memberTarget(teamId, userId), before: { teamId, userId } });
      }, { authorise: MAY_EDIT });
      return { version };
    },
  };
}

export type TeamsService = ReturnType<typeof createTeamsService>;
