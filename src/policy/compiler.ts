import type { Catalog, Policies } from './catalog.js';
import { permissionCounts, scopeOfCompanyRole } from './scopes.js';
import type { CompanyRole, MembershipStatus, StoredPermission } from './types.js';

/**
 * Everything that decides what one principal may do in one company. The loader
 * fills it from the store; policy tests and the differential test build it by hand.
 */
export interface PrincipalFacts {
  membership: {
    status: MembershipStatus;
    role: CompanyRole;
    owner: boolean;
    applicationAccess: boolean;
    developerAccess: boolean;
  } | null;
  /** The permissions of the membership's company role, as this company has them. */
  companyRolePermissions: readonly StoredPermission[];
  projectGrants: readonly ProjectGrantFact[];
}

export interface ProjectGrantFact {
  projectId: string;
  roleKey: string;
  /** Set when the grant reaches the principal through a team. */
  teamId?: string | null;
  permissions: readonly StoredPermission[];
}

/** A CASL raw rule as `createMongoAbility` takes it; JSON-safe. */
export interface CompiledRule {
  action: string | string[];
  subject: string;
  fields?: string[];
  conditions?: Record<string, { $in: string[] }>;
  inverted?: boolean;
  reason: string;
}

/** Placeholder in reasons of project-scoped rules; the check fills in the resource's project. */
export const PROJECT_PLACEHOLDER = '{projectId}';

function describe(permission: StoredPermission): string {
  const fields = permission.fields?.length ? ` (${permission.fields.join(', ')})` : '';
  return `${permission.action} ${permission.subject}${fields}`;
}

function companyRule(permission: StoredPermission, origin: string): CompiledRule {
  const verb = permission.inverted ? 'forbids' : 'allows';
  const rule: CompiledRule = { action: permission.action, subject: permission.subject, reason: `${origin} ${verb} ${describe(permission)}` };
  if (permission.fields?.length) rule.fields = [...permission.fields];
  if (permission.inverted) rule.inverted = true;
  return rule;
}

/**
 * Compiles one principal's facts in one company into CASL rules.
 *
 * Order matters to CASL (a later rule wins over an earlier one), and a role's decisions must
 * not (D9): a company role's allows come first and its restrictions after all of them, so a
 * restriction narrows its role wherever it is listed; then the owner tag and access grants,
 * then project grants, so a company role's restriction never takes away what a project role
 * grants (D17: a user's permissions are the union). Permissions a role of its kind may not
 * hold (a project permission in a company role, a restriction in a project role) are
 * skipped: writes refuse them, and rows stored before that rule decide nothing.
 * Nothing granted yields no rules, which CASL answers with deny (D20).
 */
export function compileRules(catalog: Catalog, facts: PrincipalFacts): CompiledRule[] {
  const membership = facts.membership;
  if (!membership || membership.status !== 'active') return []; // D6

  const rules: CompiledRule[] = [];
  const roleOrigin = `company role ${membership.role}`;
  const scope = scopeOfCompanyRole(membership.role);
  const counted = facts.companyRolePermissions.filter((permission) => permissionCounts(catalog, scope, permission));
  for (const permission of counted) if (!permission.inverted) rules.push(companyRule(permission, roleOrigin));
  for (const permission of counted) if (permission.inverted) rules.push(companyRule(permission, roleOrigin));
  if (membership.owner) rules.push({ action: 'delete', subject: 'Company', reason: 'owner tag allows delete Company' }); // D10
  if (membership.applicationAccess) rules.push({ action: 'use', subject: 'Application', reason: 'application access allows use Application' }); // D13
  if (membership.developerAccess) rules.push({ action: 'use', subject: 'Builder', reason: 'developer access allows use Builder' });

  rules.push(...compileProjectGrants(catalog, facts.projectGrants));
  return rules;
}

interface GrantGroup {
  roleKey: string;
  teamId: string | null;
  permissions: readonly StoredPermission[];
  projectIds: string[];
}

/** The ids sorted (as `Array.prototype.sort` orders strings) without repeats; a pass when they come sorted. */
function sortedUnique(ids: readonly string[]): string[] {
  const sorted = [...ids].sort();
  let kept = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[kept - 1]) sorted[kept++] = sorted[i]!;
  sorted.length = kept;
  return sorted;
}

/**
 * Grants of the same role through the same path become one rule per permission
 * with the projects in `$in`: 5,000 grants of one role are still a handful of rules.
 */
function compileProjectGrants(catalog: Catalog, grants: readonly ProjectGrantFact[]): CompiledRule[] {
  if (grants.length === 0) return [];
  // Role, then path: keyed by the strings the facts hold, no key built per grant.
  const byRole = new Map<string, Map<string | null, GrantGroup>>();
  const groups: GrantGroup[] = [];
  for (const grant of grants) {
    const teamId = grant.teamId ?? null;
    let paths = byRole.get(grant.roleKey);
    if (!paths) byRole.set(grant.roleKey, (paths = new Map()));
    let group = paths.get(teamId);
    if (!group) {
      group = { roleKey: grant.roleKey, teamId, permissions: grant.permissions, projectIds: [] };
      paths.set(teamId, group);
      groups.push(group);
    }
    group.projectIds.push(grant.projectId);
  }
  for (const group of groups) group.projectIds = sortedUnique(group.projectIds);
  const visibleProjects = groups.length === 1 ? groups[0]!.projectIds : sortedUnique(groups.flatMap((group) => group.projectIds));

  const rules: CompiledRule[] = [];
  // Being invited to a project lets one see it, whatever the role (D8 collaborator, D17).
  rules.push({
    action: 'view',
    subject: 'Project',
    conditions: { id: { $in: visibleProjects } },
    reason: `project membership on project ${PROJECT_PLACEHOLDER} allows view Project`,
  });
  for (const group of groups) {
    const projectIds = group.projectIds;
    const origin = group.teamId
      ? `role ${group.roleKey} via team ${group.teamId} on project ${PROJECT_PLACEHOLDER}`
      : `role ${group.roleKey} on project ${PROJECT_PLACEHOLDER}`;
    for (const permission of group.permissions) {
      if (!permissionCounts(catalog, 'project', permission)) continue; // a project role allows only, inside its project
      const attribute = catalog.subjects[permission.subject]!.projectAttribute!;
      const rule = companyRule(permission, origin);
      rule.conditions = { [attribute]: { $in: projectIds } };
      rules.push(rule);
    }
  }
  return rules;
}

/** A principal as the store holds it: the company's own permissions for its role, when it stores any. */
export interface StoredPrincipal {
  membership: PrincipalFacts['membership'];
  /** Null when the company stores no permissions for the role. */
  companyRolePermissions: readonly StoredPermission[] | null;
  projectGrants: readonly ProjectGrantFact[];
}

/**
 * Compiles a principal as stored. The admin role's permissions always come from the policy
 * files, never from the company (D9: it cannot be edited); an editable role the company
 * stores nothing for has its default.
 */
export function compileStoredPrincipal(policies: Pick<Policies, 'catalog' | 'companyRoles'>, stored: StoredPrincipal): CompiledRule[] {
  const membership = stored.membership;
  const companyRolePermissions =
    membership?.role === 'admin' ? policies.companyRoles.admin : (stored.companyRolePermissions ?? (membership ? policies.companyRoles[membership.role] : []));
  return compileRules(policies.catalog, { membership, companyRolePermissions, projectGrants: stored.projectGrants });
}
