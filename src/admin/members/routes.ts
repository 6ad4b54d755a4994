import { userRoute, type Route } from '../../http/route.js';
import type { AdminDeps } from '../router.js';
import { companyParams, versionOnly } from '../schemas.js';
import { inviteBody, localUserBody, memberList, memberListQuery, memberParams, memberPatchBody, memberView, memberWritten } from './schemas.js';
import { createMembersService } from './service.js';

const tag = 'Members';

export function membersRoutes({ db, policies, announce, hashing, invitations, events }: AdminDeps): Route[] {
  const service = createMembersService({ db, policies, announce, hashing, invitations, events });
  return [
    // Before /members/{userId}: "me" here is the caller. A user whose id is literally "me" is named %6De there.
    userRoute({
      method: 'get',
      path: '/v1/companies/{company}/members/me',
      summary: "Read one's own membership (any active member)",
      tag,
      params: companyParams,
      success: { status: 200, description: 'the caller\'s membership', schema: memberView },
      errors: ['unauthenticated', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.get(caller, params.company, caller.sub) }),
    }),
    userRoute({
      method: 'delete',
      path: '/v1/companies/{company}/members/me',
      summary: 'Leave the company (any member but the owner and the last active admin); team places and project grants go too',
      tag,
      params: companyParams,
      success: { status: 200, description: 'left', schema: versionOnly },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict', 'last_admin'],
      handle: async ({ params }, caller) => ({ body: await service.leave(caller, params.company) }),
    }),
    userRoute({
      method: 'get',
      path: '/v1/companies/{company}/members',
      summary: 'List the members with their derived type (view Member): all of them, or with limit a page at a time (after, next); q and the filters narrow either',
      tag,
      params: companyParams,
      query: memberListQuery,
      success: { status: 200, description: 'the members, or a page of them with the next cursor and the count matching', schema: memberList },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params, query }, caller) => ({ body: await service.list(caller, params.company, query) }),
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
      summary: 'Invite a platform user by email (invite Member); listed as invited until they accept. An email with an invitation already is re-invited',
      tag,
      params: companyParams,
      body: inviteBody,
      success: { status: 201, description: 'the invited member', schema: memberWritten },
      alsoSucceeds: { status: 200, description: 'the existing invitation (pending or expired), re-invited: renewed, with the role and access given' },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict', 'license_limit'],
      handle: async ({ params, body }, caller) => {
        const { created, ...member } = await service.invite(caller, params.company, body);
        return { status: created ? 201 : 200, body: member };
      },
    }),
    userRoute({
      method: 'post',
      path: '/v1/companies/{company}/invitations/{userId}/resend',
      summary: 'Re-send an invitation, pending or expired, by its placeholder id (invite Member): its expiry is renewed and the invitation.resent event sent',
      tag,
      params: memberParams,
      success: { status: 200, description: 'the renewed invitation', schema: memberWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict', 'license_limit'],
      handle: async ({ params }, caller) => ({ body: await service.resend(caller, params.company, params.userId) }),
    }),
    userRoute({
      method: 'post',
      path: '/v1/companies/{company}/invitations/decline',
      summary: "Decline an invitation as the invited platform user (the token's verified email must match); it is removed",
      tag,
      params: companyParams,
      success: { status: 200, description: 'declined', schema: versionOnly },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.decline(caller, params.company) }),
    }),
    userRoute({
      method: 'post',
      path: '/v1/companies/{company}/invitations/accept',
      summary: "Accept an invitation as the invited platform user (the token's verified email must match); an expired one is 409 with details.reason \"expired\"",
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
