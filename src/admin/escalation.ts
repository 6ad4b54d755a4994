import { createMongoAbility, subject as asSubject, type MongoAbility } from '@casl/ability';
import type { Catalog } from '../policy/catalog.js';
import { compileRules, type PrincipalFacts, type ProjectGrantFact } from '../policy/compiler.js';
import type { CompanyRole, StoredPermission } from '../policy/types.js';

/**
 * D23 in decisions rather than permissions: what a write gives someone is the set of
 * decisions (action, subject, field, project) their compiled rules answer "allowed" to, and
 * the caller must answer "allowed" to each of them too. Comparing decisions, not permission
 * lists, makes restrictions, `manage`, fields and the order of a role's permissions count
 * exactly as /v1/check counts them.
 */

/** One decision someone may hold: on one project, or company-wide when `projectId` is absent. */
export interface HeldDecision {
  action: string;
  subject: string;
  field?: string;
  projectId?: string;
}

/**
 * Stands for "any project": a company-wide rule reaches it, a grant on named projects never
 * does. Project ids are `[A-Za-z0-9._:@-]`, so no real project can be called this.
 */
const ANY_PROJECT = '\u0000any project';

const keyOf = (d: HeldDecision) => `${d.subject}\u0000${d.action}\u0000${d.field ?? ''}\u0000${d.projectId ?? ''}`;

/** Every decision of the catalog: company-wide, and on each of `projects` for project-scoped subjects. */
export function decisionGrid(catalog: Catalog, projects: Iterable<string>): HeldDecision[] {
  const named = [...new Set(projects)].sort();
  const grid: HeldDecision[] = [];
  for (const [subject, spec] of Object.entries(catalog.subjects)) {
    const places: Array<string | undefined> = spec.projectAttribute ? [undefined, ...named] : [undefined];
    for (const projectId of places) {
      for (const action of spec.actions) {
        for (const field of [undefined, ...(spec.fields ?? [])]) {
          grid.push({ action, subject, ...(field ? { field } : {}), ...(projectId !== undefined ? { projectId } : {}) });
        }
      }
    }
  }
  return grid;
}

export function allows(ability: MongoAbility, catalog: Catalog, decision: HeldDecision): boolean {
  const attribute = catalog.subjects[decision.subject]?.projectAttribute;
  const attributes = attribute ? { [attribute]: decision.projectId ?? ANY_PROJECT } : {};
  return ability.can(decision.action, asSubject(decision.subject, attributes), decision.field);
}

/** The decisions of `grid` that `after` allows and `before` did not. */
export function gainedDecisions(catalog: Catalog, before: MongoAbility | null, after: MongoAbility, grid: readonly HeldDecision[]): HeldDecision[] {
  return grid.filter((d) => allows(after, catalog, d) && !(before && allows(before, catalog, d)));
}

/** The decisions the holder does not hold. */
export function lackingDecisions(catalog: Catalog, holder: MongoAbility, decisions: readonly HeldDecision[]): HeldDecision[] {
  return decisions.filter((d) => !allows(holder, catalog, d));
}

export const abilityOf = (catalog: Catalog, facts: PrincipalFacts): MongoAbility => createMongoAbility(compileRules(catalog, facts));

const activeAs = (role: CompanyRole) => ({ status: 'active' as const, role, owner: false, applicationAccess: false, developerAccess: false });

/** What holding a company role gives, company-wide. */
export function companyRoleAbility(catalog: Catalog, role: CompanyRole, permissions: readonly StoredPermission[]): MongoAbility {
  return abilityOf(catalog, { membership: activeAs(role), companyRolePermissions: permissions, projectGrants: [] });
}

/**
 * What a project role gives wherever it is granted, evaluated on "any project": a role
 * definition is checked company-wide, since it reaches every project it is granted on, now
 * or later. `withPermissions: false` is the bare grant (seeing the project), which any
 * grant gives whatever its role holds.
 */
export function projectRoleAbility(catalog: Catalog, permissions: readonly StoredPermission[]): MongoAbility {
  return abilityOf(catalog, { membership: activeAs('collaborator'), companyRolePermissions: [], projectGrants: [{ projectId: ANY_PROJECT, roleKey: 'role', permissions }] });
}

/** What holding `grants` gives (on their projects), and nothing else. */
export function grantsAbility(catalog: Catalog, grants: readonly ProjectGrantFact[]): MongoAbility {
  return abilityOf(catalog, { membership: activeAs('collaborator'), companyRolePermissions: [], projectGrants: grants });
}

export interface LackingPermission {
  action: string;
  subject: string;
  fields?: string[];
  projectId?: string;
}

/**
 * Lacking decisions as an error names them: one entry per action, subject and project, with
 * the fields lacked when the subject has fields and only some are (the subject as a whole is
 * lacked only when every field is).
 */
export function describeLacking(catalog: Catalog, lacking: readonly HeldDecision[]): LackingPermission[] {
  const groups = new Map<string, LackingPermission & { wholeSubject: boolean; fieldSet: Set<string> }>();
  for (const d of lacking) {
    const key = keyOf({ action: d.action, subject: d.subject, ...(d.projectId !== undefined ? { projectId: d.projectId } : {}) });
    let group = groups.get(key);
    if (!group) {
      group = { action: d.action, subject: d.subject, ...(d.projectId !== undefined ? { projectId: d.projectId } : {}), wholeSubject: false, fieldSet: new Set() };
      groups.set(key, group);
    }
    if (d.field === undefined) group.wholeSubject = true;
    else group.fieldSet.add(d.field);
  }
  return [...groups.values()].map(({ wholeSubject, fieldSet, ...entry }) => {
    const all = catalog.subjects[entry.subject]?.fields ?? [];
    const fields = all.filter((f) => fieldSet.has(f));
    const everyField = fields.length === all.length;
    return wholeSubject && everyField ? entry : fields.length ? { ...entry, fields } : entry;
  });
}
