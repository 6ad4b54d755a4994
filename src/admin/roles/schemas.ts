import { z } from 'zod';
import { permissionProblems, projectRoleKeySchema, type Catalog } from '../../policy/catalog.js';
import type { StoredPermission } from '../../policy/types.js';
import { displayName } from '../../http/text.js';
import { companyRoleSchema, idSchema, permissionSchema, versionSchema } from '../schemas.js';

/** More than every distinct (action, subject) pair of the catalog with room to spare; bounds the work of one write. */
const MAX_PERMISSIONS = 200;

/**
 * A role's permissions, checked against the catalog where zod sees them, so a problem is
 * a 400 naming its place in the body (`permissions.2`).
 */
export function permissionListSchema(catalog: Catalog, scope: 'company' | 'project') {
  return z
    .array(permissionSchema)
    .max(MAX_PERMISSIONS)
    .superRefine((permissions, ctx) => {
      permissions.forEach((permission, i) => {
        const problems = permissionProblems(catalog, permission, scope);
        if (problems.length) ctx.addIssue({ code: 'custom', path: [i], message: problems.join('; ') });
      });
    });
}

const roleName = displayName(200);

export const companyRoleBody = (catalog: Catalog) => z.strictObject({ permissions: permissionListSchema(catalog, 'company') });
export const createProjectRoleBody = (catalog: Catalog) =>
  z.strictObject({ key: projectRoleKeySchema, name: roleName, permissions: permissionListSchema(catalog, 'project') });
export const updateProjectRoleBody = (catalog: Catalog) => z.strictObject({ name: roleName, permissions: permissionListSchema(catalog, 'project') });

export type ProjectRoleInput = { key: string; name: string; permissions: StoredPermission[] };

/** Any id: a key that names no role is a 404, not a malformed request. */
export const roleParams = z.strictObject({ company: idSchema, key: idSchema });

const permissionView = z.object({
  action: z.string(),
  subject: z.string(),
  fields: z.array(z.string()).optional(),
  inverted: z.boolean().optional(),
});
export const companyRoleView = z.object({ key: companyRoleSchema, permissions: z.array(permissionView), editable: z.boolean() });
export const projectRoleView = z.object({ key: z.string(), name: z.string(), permissions: z.array(permissionView) });
export const rolesView = z.object({ company: z.array(companyRoleView), project: z.array(projectRoleView) });

export type CompanyRoleView = z.infer<typeof companyRoleView>;
export type ProjectRoleView = z.infer<typeof projectRoleView>;
export type RolesView = z.infer<typeof rolesView>;

export const companyRoleWritten = companyRoleView.extend({ version: versionSchema });
export const projectRoleWritten = projectRoleView.extend({ version: versionSchema });
