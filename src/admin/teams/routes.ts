import { userRoute, type Route } from '../../http/route.js';
import type { AdminDeps } from '../router.js';
import { companyParams, versionOnly } from '../schemas.js';
import { createTeamBody, renameTeamBody, teamList, teamMemberParams, teamParams, teamView, teamWritten } from './schemas.js';
import { createTeamsService } from './service.js';

const tag = 'Teams';

export function teamsRoutes({ db, policies, announce }: AdminDeps): Route[] {
  const service = createTeamsService({ db, policies, announce });
  return [
    userRoute({
      method: 'post',
      path: '/v1/companies/{company}/teams',
      summary: 'Create a team (create Team); the id is generated when absent',
      tag,
      params: companyParams,
      body: createTeamBody,
      success: { status: 201, description: 'the team, without members', schema: teamWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict'],
      handle: async ({ params, body }, caller) => ({ body: await service.create(caller, params.company, body) }),
    }),
    userRoute({
      method: 'get',
      path: '/v1/companies/{company}/teams',
      summary: 'List the teams with their members (view Team)',
      tag,
      params: companyParams,
      success: { status: 200, description: 'the teams, by id', schema: teamList },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.list(caller, params.company) }),
    }),
    userRoute({
      method: 'get',
      path: '/v1/companies/{company}/teams/{teamId}',
      summary: 'Read a team with its members (view Team)',
      tag,
      params: teamParams,
      success: { status: 200, description: 'the team', schema: teamView },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.get(caller, params.company, params.teamId) }),
    }),
    userRoute({
      method: 'patch',
      path: '/v1/companies/{company}/teams/{teamId}',
      summary: 'Rename a team (edit Team); changes no decision, so the version stays',
      tag,
      params: teamParams,
      body: renameTeamBody,
      success: { status: 200, description: 'the team', schema: teamWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params, body }, caller) => ({ body: await service.rename(caller, params.company, params.teamId, body.name) }),
    }),
    userRoute({
      method: 'delete',
      path: '/v1/companies/{company}/teams/{teamId}',
      summary: "Delete a team (delete Team); its members lose the team's project grants at once",
      tag,
      params: teamParams,
      success: { status: 200, description: 'deleted', schema: versionOnly },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.remove(caller, params.company, params.teamId) }),
    }),
    userRoute({
      method: 'put',
      path: '/v1/companies/{company}/teams/{teamId}/members/{userId}',
      summary: 'Add a member of the company to a team (edit Team); idempotent',
      tag,
      params: teamMemberParams,
      success: { status: 200, description: 'the team with its members', schema: teamWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.addMember(caller, params.company, params.teamId, params.userId) }),
    }),
    userRoute({
      method: 'delete',
      path: '/v1/companies/{company}/teams/{teamId}/members/{userId}',
      summary: "Remove a user from a team (edit Team); they lose the team's project grants at once",
      tag,
      params: teamMemberParams,
      success: { status: 200, description: 'removed', schema: versionOnly },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.removeMember(caller, params.company, params.teamId, params.userId) }),
    }),
  ];
}
