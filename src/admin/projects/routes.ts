import { userRoute, type Route } from '../../http/route.js';
import type { AdminDeps } from '../router.js';
import { companyParams, versionOnly } from '../schemas.js';
import type { Caller } from '../context.js';
import type { Grantee } from './decisions.js';
import {
  grantBody,
  projectMembers,
  projectListQuery,
  projectPage,
  projectParams,
  projectTeamParams,
  projectUserParams,
  projectWritten,
  registerProjectBody,
  teamGrantWritten,
  userGrantWritten,
} from './schemas.js';
import { createProjectsService } from './service.js';

const tag = 'Projects';

export function projectsRoutes({ db, policies, announce }: AdminDeps): Route[] {
  const service = createProjectsService({ db, policies, announce });
  const grantErrors = ['unauthenticated', 'forbidden', 'not_found'];
  // A new grant is a create (201); a changed or repeated one an update (200).
  const putGrant = async (caller: Caller, company: string, projectId: string, grantee: Grantee, role: string) => {
    const { body, created, version } = await service.putGrant(caller, company, projectId, grantee, role);
    return { status: created ? 201 : 200, body: { ...body, version } };
  };
  const userGrantPath = '/v1/companies/{company}/projects/{projectId}/members/users/{userId}';
  const teamGrantPath = '/v1/companies/{company}/projects/{projectId}/members/teams/{teamId}';

  return [
    userRoute({
      method: 'get',
      path: '/v1/companies/{company}/projects',
      summary: 'The projects the caller may view (all of them for roles that see every project), with member and team counts, a page at a time',
      tag,
      params: companyParams,
      query: projectListQuery,
      success: { status: 200, description: 'a page of projects', schema: projectPage },
      errors: ['unauthenticated', 'not_found'],
      handle: async ({ params, query }, caller) => ({ body: await service.list(caller, params.company, query) }),
    }),
    userRoute({
      method: 'put',
      path: '/v1/companies/{company}/projects/{projectId}',
      summary: 'Register a project (create Project; the creator gets project-admin) or rename it (edit Project); idempotent',
      tag,
      params: projectParams,
      body: registerProjectBody,
      success: { status: 201, description: 'the project, newly registered', schema: projectWritten },
      alsoSucceeds: { status: 200, description: 'the project, already registered (renamed or unchanged)' },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict'],
      handle: async ({ params, body }, caller) => {
        const { created, ...project } = await service.register(caller, params.company, params.projectId, body);
        return { status: created ? 201 : 200, body: project };
      },
    }),
    userRoute({
      method: 'delete',
      path: '/v1/companies/{company}/projects/{projectId}',
      summary: 'Delete a project (delete Project); its grants go with it at once',
      tag,
      params: projectParams,
      success: { status: 200, description: 'deleted', schema: versionOnly },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.remove(caller, params.company, params.projectId) }),
    }),
    userRoute({
      method: 'get',
      path: '/v1/companies/{company}/projects/{projectId}/members',
      summary: "A project's grants, to users and to teams (view ProjectMember)",
      tag,
      params: projectParams,
      success: { status: 200, description: 'the grants', schema: projectMembers },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.members(caller, params.company, params.projectId) }),
    }),
    userRoute({
      method: 'put',
      path: userGrantPath,
      summary: 'Give a member one project role on a project (invite ProjectMember when new, edit ProjectMember when changed); idempotent',
      tag,
      params: projectUserParams,
      body: grantBody,
      success: { status: 201, description: 'the grant, new', schema: userGrantWritten },
      alsoSucceeds: { status: 200, description: 'the grant, changed or repeated' },
      errors: grantErrors,
      handle: ({ params: p, body }, caller) => putGrant(caller, p.company, p.projectId, { kind: 'user', id: p.userId }, body.role),
    }),
    userRoute({
      method: 'delete',
      path: userGrantPath,
      summary: "Take a member's role on a project away (remove ProjectMember); it stops granting at once",
      tag,
      params: projectUserParams,
      success: { status: 200, description: 'removed', schema: versionOnly },
      errors: grantErrors,
      handle: async ({ params: p }, caller) => ({ body: await service.deleteGrant(caller, p.company, p.projectId, { kind: 'user', id: p.userId }) }),
    }),
    userRoute({
      method: 'put',
      path: teamGrantPath,
      summary: "Give a team one project role on a project, reaching all its members (invite ProjectMember when new, edit ProjectMember when changed); idempotent",
      tag,
      params: projectTeamParams,
      body: grantBody,
      success: { status: 201, description: 'the grant, new', schema: teamGrantWritten },
      alsoSucceeds: { status: 200, description: 'the grant, changed or repeated' },
      errors: grantErrors,
      handle: ({ params: p, body }, caller) => putGrant(caller, p.company, p.projectId, { kind: 'team', id: p.teamId }, body.role),
    }),
    userRoute({
      method: 'delete',
      path: teamGrantPath,
      summary: "Take a team's role on a project away (remove ProjectMember); its members lose it at once",
      tag,
      params: projectTeamParams,
      success: { status: 200, description: 'removed', schema: versionOnly },
      errors: grantErrors,
      handle: async ({ params: p }, caller) => ({ body: await service.deleteGrant(caller, p.company, p.projectId, { kind: 'team', id: p.teamId }) }),
    }),
  ];
}
