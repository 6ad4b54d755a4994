import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A plain evaluator written from ../shared/DOMAIN.md over the raw rows, without CASL and
 * without anything from src/ (not even its types): the differential test holds the
 * compiler and the check path to it. Where the compiler and this file agree only because
 * one was copied from the other, the test proves nothing, so each rule below is read from
 * DOMAIN.md and cited.
 */

export type Role = 'admin' | 'manager' | 'editor' | 'collaborator';
export type Status = 'invited' | 'active' | 'inactive';

export interface Permission {
  action: string;
  subject: string;
  fields?: string[];
  inverted?: boolean;
}

export interface RawCompany {
  id: string;
  memberships: Array<{ user: string; role: Role; status: Status; owner: boolean; app: boolean; dev: boolean }>;
  /** As stored: possibly holding permissions written before the rules that refuse them. */
  companyRoles: Record<'manager' | 'editor' | 'collaborator', Permission[]>;
  projectRoles: Array<{ key: string; permissions: Permission[] }>;
  teams: Array<{ id: string; members: string[] }>;
  /** The projects registered in the company (D15). */
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

/** The admin role is fixed by the policy files (D9), read here as JSON, not through src/. */
const adminPermissions: Permission[] = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../policies/company-roles.json'), 'utf8')).admin;

/** API.md's catalog: the subjects whose resources belong to a project (they carry its id). */
const PROJECT_SCOPED = new Set(['Project', 'ProjectInformation', 'Scenario', 'ProjectMember']);

/**
 * D9, D18: company roles hold company-level permissions only. Company-level is the settings,
 * users, teams and roles (D8, D12), and of projects only creating them and seeing them all
 * (D8). Everything else about a project comes from project roles, except that admins may
 * manage every project, its members included (D18).
 */
function countsInCompanyRole(role: Role, permission: Permission): boolean {
  if (['CompanySettings', 'Member', 'Team', 'Role'].includes(permission.subject)) return true;
  if (permission.subject === 'Project' && ['create', 'view'].includes(permission.action)) return true;
  return role === 'admin' && (permission.subject === 'Project' || permission.subject === 'ProjectMember');
}

/** D16: a project role is a subset of project permissions, and only ever allows. */
const countsInProjectRole = (permission: Permission) => !permission.inverted && PROJECT_SCOPED.has(permission.subject);

/** Does a permission speak to this action, subject and field? `manage` stands for every action. */
function covers(permission: Permission, check: RawCheck): boolean {
  if (permission.subject !== check.type) return false;
  if (permission.action !== check.action && permission.action !== 'manage') return false;
  if (!permission.fields) return true;
  // A check naming no field is about the subject as a whole: a permission limited to some
  // sections allows it, and a restriction limited to some sections does not forbid it.
  if (check.field === undefined) return !permission.inverted;
  return permission.fields.includes(check.field);
}

/** D9: a role allows what one of its permissions allows and none of its restrictions forbids, in any order. */
const roleAllows = (permissions: readonly Permission[], check: RawCheck) =>
  permissions.some((p) => !p.inverted && covers(p, check)) && !permissions.some((p) => p.inverted && covers(p, check));

export function referenceDecision(companies: readonly RawCompany[], check: RawCheck): boolean {
  const company = companies.find((c) => c.id === check.company); // D1: only this company's data counts
  if (!company) return false; // D20
  const membership = company.memberships.find((m) => m.user === check.user);
  if (!membership || membership.status !== 'active') return false; // D6

  if (check.type === 'Company') return check.action === 'delete' && membership.owner; // D10
  if (check.type === 'Application') return membership.app; // D13
  if (check.type === 'Builder') return membership.dev;

  if (PROJECT_SCOPED.has(check.type)) {
    // D15: a decision about a project not registered in the company is a deny; creating one
    // is the decision taken before a project exists.
    const creating = check.type === 'Project' && check.action === 'create';
    if (!creating && (check.project === undefined || !company.projects.includes(check.project))) return false;
  }

  // D17: the project roles held directly and through teams are a union, and any of them
  // lets the holder see the project.
  if (PROJECT_SCOPED.has(check.type) && check.project !== undefined) {
    const teams = new Set(company.teams.filter((t) => t.members.includes(check.user)).map((t) => t.id));
    const held = company.grants.filter((g) => g.project === check.project && (g.user === check.user || (g.team !== undefined && teams.has(g.team))));
    if (held.length > 0 && check.type === 'Project' && check.action === 'view') return true;
    for (const grant of held) {
      const role = company.projectRoles.find((r) => r.key === grant.role);
      if (role && role.permissions.filter(countsInProjectRole).some((p) => covers(p, check))) return true;
    }
  }

  // D8, D9, D18: company-role permissions are not scoped to projects; admin's are fixed.
  const stored = membership.role === 'admin' ? adminPermissions : company.companyRoles[membership.role];
  return roleAllows(stored.filter((p) => countsInCompanyRole(membership.role, p)), check);
}
