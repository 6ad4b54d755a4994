import { userRoute, type Route } from '../../http/route.js';
import type { AdminDeps } from '../router.js';
import { companyParams, versionOnly } from '../schemas.js';
import { inviteBody, localUserBody, memberList, memberParams, memberPatchBody, memberView, memberWritten } from './schemas.js';
import { createMembersService } from './service.js';

const tag = 'Members';

export function membersRoutes({ db, policies, announce, hashing }: AdminDeps): Route[] {
  const service = createMembersService({ db, policies, announce, hashing });
  return [
    userRoute({
      method: 'get',
      path: '/v1/companies/{company}/members',
      summary: 'List the members with their derived type (view Member)',
      tag,
      params: companyParams,
      success: { status: 200, description: 'the members', schema: memberList },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => ({ body: { members: await service.list(caller, params.company) } }),
    }),
    userRoute({
      method: 'get',
      path: '/v1/companies/{company}/members/{userId}',
      summary: 'Read one member (view Member, or oneself)',
      tag,
      params: memberParams,
      success: { status: 200, description: 'the member', schema: memberView },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.get(caller, params.company, params.userId) }),
    }),
    userRoute({
      method: 'post',
      path: '/v1/companies/{company}/invitations',
      summary: 'Invite a platform user by email (invite Member); listed as invited until they accept',
      tag,
      params: companyParams,
      body: inviteBody,
      success: { status: 201, description: 'the invited member', schema: memberWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict', 'license_limit'],
      handle: async ({ params, body }, caller) => ({ body: await service.invite(caller, params.company, body) }),
    }),
    userRoute({
      method: 'post',
      path: '/v1/companies/{company}/invitations/accept',
      summary: "Accept an invitation as the invited platform user (the token's email must match)",
      tag,
      params: companyParams,
      success: { status: 200, description: 'the now active member', schema: memberWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict'],
      handle: async ({ params }, caller) => ({ body: await service.accept(caller, params.company) }),
    }),
    userRoute({
      method: 'post',
      path: '/v1/companies/{company}/local-users',
      summary: 'Create a local user, active at once (create Member)',
      tag,
      params: companyParams,
      body: localUserBody,
      success: { status: 201, description: 'the local user', schema: memberWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict', 'license_limit', 'too_many_requests'],
      handle: async ({ params, body }, caller) => ({ body: await service.createLocal(caller, params.company, body) }),
    }),
    userRoute({
      method: 'patch',
      path: '/v1/companies/{company}/members/{userId}',
      summary: "Change a member's role, status or access grants (edit Member)",
      tag,
      params: memberParams,
      body: memberPatchBody,
      success: { status: 200, description: 'the member', schema: memberWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict', 'last_admin', 'license_limit'],
      handle: async ({ params, body }, caller) => ({ body: await service.update(caller, params.company, params.userId, body) }),
    }),
    userRoute({
      method: 'delete',
      path: '/v1/companies/{company}/members/{userId}',
      summary: 'Remove a member with their team places and project grants (remove Member)',
      tag,
      params: memberParams,
      success: { status: 200, description: 'removed', schema: versionOnly },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict', 'last_admin'],
      handle: async ({ params }, caller) => ({ body: await service.remove(caller, params.company, params.userId) }),
    }),
  ];
}
