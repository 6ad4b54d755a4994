import { userRoute, type Route } from '../../http/route.js';
import type { AdminDeps } from '../router.js';
import { companyParams, versionOnly } from '../schemas.js';
import { parseIfMatch } from './etag.js';
import {
  companyRoleBody,
  companyRoleWritten,
  createProjectRoleBody,
  projectRoleWritten,
  roleParams,
  rolesView,
  updateProjectRoleBody,
} from './schemas.js';
import { createRolesService, type RolesReply } from './service.js';

const tag = 'Roles';

/** Every roles answer carries the ETag of the roles after it, ready for the next If-Match. */
const withEtag = <T>({ body, etag }: RolesReply<T>, status?: number) => ({ body, headers: { ETag: etag }, ...(status ? { status } : {}) });

export function rolesRoutes({ db, policies, announce }: AdminDeps): Route[] {
  const service = createRolesService({ db, policies, announce });
  const { catalog } = policies;
  const writeErrors = ['unauthenticated', 'forbidden', 'not_found', 'precondition_failed'] as const;
  const etagHeader = 'a strong ETag of all the roles; pass it as If-Match on the next role write';
  const writeHeaders = {
    request: { 'If-Match': 'the ETag from GET /roles; a stale one is refused with 412 precondition_failed (optional)' },
    response: { ETag: etagHeader },
  };
  return [
    userRoute({
      method: 'get',
      path: '/v1/companies/{company}/roles',
      summary: 'List company roles (admin first, not editable) and project roles, with an ETag for If-Match (view Role)',
      tag,
      params: companyParams,
      success: { status: 200, description: 'the roles; the ETag header changes whenever any role does', schema: rolesView },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      headers: { response: { ETag: etagHeader } },
      handle: async ({ params }, caller) => withEtag(await service.list(caller, params.company)),
    }),
    userRoute({
      method: 'put',
      path: '/v1/companies/{company}/roles/company/{key}',
      summary: 'Replace the permissions of manager, editor or collaborator (edit Role; If-Match optional)',
      tag,
      params: roleParams,
      body: companyRoleBody(catalog),
      success: { status: 200, description: 'the role, with the new roles ETag', schema: companyRoleWritten },
      errors: [...writeErrors, 'role_immutable'],
      headers: writeHeaders,
      handle: async ({ params, body, headers }, caller) =>
        withEtag(await service.updateCompanyRole(caller, params.company, params.key, body.permissions, parseIfMatch(headers['if-match']))),
    }),
    userRoute({
      method: 'post',
      path: '/v1/companies/{company}/roles/project',
      summary: 'Create a custom project role (create Role; If-Match optional)',
      tag,
      params: companyParams,
      body: createProjectRoleBody(catalog),
      success: { status: 201, description: 'the role, with the new roles ETag', schema: projectRoleWritten },
      errors: [...writeErrors, 'conflict'],
      headers: writeHeaders,
      handle: async ({ params, body, headers }, caller) => withEtag(await service.createProjectRole(caller, params.company, body, parseIfMatch(headers['if-match'])), 201),
    }),
    userRoute({
      method: 'put',
      path: '/v1/companies/{company}/roles/project/{key}',
      summary: 'Rename a project role or replace its permissions (edit Role; If-Match optional)',
      tag,
      params: roleParams,
      body: updateProjectRoleBody(catalog),
      success: { status: 200, description: 'the role, with the new roles ETag', schema: projectRoleWritten },
      errors: writeErrors,
      headers: writeHeaders,
      handle: async ({ params, body, headers }, caller) =>
        withEtag(await service.updateProjectRole(caller, params.company, params.key, body, parseIfMatch(headers['if-match']))),
    }),
    userRoute({
      method: 'delete',
      path: '/v1/companies/{company}/roles/project/{key}',
      summary: 'Delete a project role that is granted nowhere; project-admin cannot be deleted (delete Role; If-Match optional)',
      tag,
      params: roleParams,
      success: { status: 200, description: 'deleted, with the new roles ETag', schema: versionOnly },
      errors: [...writeErrors, 'conflict'],
      headers: writeHeaders,
      handle: async ({ params, headers }, caller) => withEtag(await service.deleteProjectRole(caller, params.company, params.key, parseIfMatch(headers['if-match']))),
    }),
  ];
}
