import type { Policies } from '../../src/policy/catalog.js';
import type { CompanyRole, MembershipStatus, StoredPermission } from '../../src/policy/types.js';

/**
 * A plain evaluator written from DOMAIN.md over the raw rows, without CASL: the
 * differential test holds the compiler and the check path to it.
 */
export interface RawCompany {
  id: string;
  memberships: Array<{ user: string; role: CompanyRole; status: MembershipStatus; owner: boolean; app: boolean; dev: boolean }>;
  companyRoles: Record<'manager' | 'editor' | 'collaborator', StoredPermission[]>;
  projectRoles: Array<{ key: string; permissions: StoredPermission[] }>;
  teams: Array<{ id: string; members: string[] }>;
  projects: string[];
  grants: Array<{ project: string; role: string; user?: string; team?: string }>;
}

export interface RawCheck {
  company: string;
  user: string;
  action: string;
  type: string;
  /** Project id for Project, projectId for project-scoped types; absent when the check names no project. */
  project?: string;
  field?: string;
}

/** The project a resource belongs to, by type: a Project is its own. */
const projectScoped = new Set(['Project', 'ProjectInformation', 'Scenario', 'ProjectMember']);

/** Does a permission speak to this action, subject and field? `manage` stands for every action. */
function covers(permission: StoredPermission, check: RawCheck): boolean {
  if (permission.subject !== check.type) return false;
  if (permission.action !== check.action && permission.action !== 'manage') return false;
  if (!permission.fields) return true;
  // A check naming no field is about the subject as a whole: a permission limited to some
  // sections allows it, and a restriction limited to some sections does not forbid it.
  if (check.field === undefined) return !permission.inverted;
  return permission.fields.includes(check.field);
}

/** Within one role, a restriction takes back what the role's earlier permissions gave. */
function roleAllows(permissions: readonly StoredPermission[], check: RawCheck): boolean {
  return permissions.some((p, i) => !p.inverted && covers(p, check) && !permissions.slice(i + 1).some((q) => q.inverted && covers(q, check)));
}

export function referenceDecision(policies: Policies, companies: readonly RawCompany[], check: RawCheck): boolean {
  const company = companies.find((c) => c.id === check.company); // D1: only this company's data counts
  if (!company) return false; // D20
  const membership = company.memberships.find((m) => m.user === check.user);
  if (!membership || membership.status !== 'active') return false; // D6

  if (check.type === 'Company') return check.action === 'delete' && membership.owner; // D10
  if (check.type === 'Application') return membership.app; // D13
  if (check.type === 'Builder') return membership.dev;

  // D17: the project roles held directly and through teams are a union, and any of them
  // lets the holder see the project.
  if (projectScoped.has(check.type) && check.project !== undefined) {
    const teams = new Set(company.teams.filter((t) => t.members.includes(check.user)).map((t) => t.id));
    const held = company.grants.filter((g) => g.project === check.project && (g.user === check.user || (g.team !== undefined && teams.has(g.team))));
    if (held.length > 0 && check.type === 'Project' && check.action === 'view') return true;
    for (const grant of held) {
      const role = company.projectRoles.find((r) => r.key === grant.role);
      if (role && roleAllows(role.permissions, check)) return true;
    }
  }

  // D8, D9, D18: company-role permissions are not scoped to projects; admin's are fixed.
  const rolePermissions = membership.role === 'admin' ? policies.companyRoles.admin : company.companyRoles[membership.role];
  return roleAllows(rolePermissions, check);
}
