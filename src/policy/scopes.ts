import type { Catalog } from './catalog.js';
import type { CompanyRole, StoredPermission } from './types.js';

/**
 * Where a permission is stored decides what it may name:
 * - `company`: an editable company role (manager, editor, collaborator), company-level only (D9);
 * - `admin`: the admin role of the policy files, which also manages every project (D18);
 * - `project`: a project role, scoped to the project it is granted on, allows only (D16).
 */
export type PermissionScope = 'company' | 'admin' | 'project';

export const scopeOfCompanyRole = (role: CompanyRole): PermissionScope => (role === 'admin' ? 'admin' : 'company');

/** The actions a role of this scope may name on `subject`; undefined when it may not name the subject at all. */
export function actionsInScope(catalog: Catalog, scope: PermissionScope, subject: string): readonly string[] | undefined {
  if (scope === 'project') return catalog.projectRolePermissions[subject];
  const company = catalog.companyRolePermissions[subject];
  if (scope === 'company') return company;
  const admin = catalog.adminRolePermissions[subject];
  return company && admin ? [...company, ...admin] : (company ?? admin);
}

/**
 * Whether a stored permission counts in a role of this scope. Writes refuse the others with
 * a 400; the compiler also skips them, so rows stored before a rule existed, or under a
 * catalog that has shrunk since, never decide anything.
 */
export function permissionCounts(catalog: Catalog, scope: PermissionScope, permission: StoredPermission): boolean {
  if (scope === 'project' && permission.inverted) return false;
  if (!actionsInScope(catalog, scope, permission.subject)?.includes(permission.action)) return false;
  const fields = catalog.subjects[permission.subject]?.fields;
  return (permission.fields ?? []).every((field) => fields?.includes(field));
}
