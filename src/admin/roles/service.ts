import type { MongoAbility } from '@casl/ability';
import { sql, type Kysely, type Transaction } from 'kysely';
import { ConflictError, NotFoundError, RoleImmutableError } from '../../errors.js';
import type { Catalog, Policies } from '../../policy/catalog.js';
import { COMPANY_ROLES, CREATOR_PROJECT_ROLE, EDITABLE_COMPANY_ROLES, type CompanyRole, type StoredPermission } from '../../policy/types.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../store/errors.js';
import type { Database } from '../../store/schema.js';
import { assertCan, assertHolds, type Caller, type CallerRights, type Need } from '../context.js';
import { companyRoleAbility, decisionGrid, gainedDecisions, projectRoleAbility } from '../escalation.js';
import { readCompany, writeCompany, type WriteDeps } from '../transaction.js';
import { assertPrecondition, rolesEtag, type Precondition } from './etag.js';
import type { CompanyRoleView, ProjectRoleInput, ProjectRoleView, RolesView } from './schemas.js';

type EditableCompanyRole = (typeof EDITABLE_COMPANY_ROLES)[number];

/** One key order for every permission, whatever order the body or jsonb gave: the ETag hashes this form. */
export function canonicalPermission(permission: StoredPermission): StoredPermission {
  return {
    action: permission.action,
    subject: permission.subject,
    ...(permission.fields !== undefined ? { fields: [...permission.fields] } : {}),
    ...(permission.inverted !== undefined ? { inverted: permission.inverted } : {}),
  };
}

/** The company role a path names, if it may be written: admin is fixed (D9), and there are no others (D7). */
export function editableCompanyRole(key: string): EditableCompanyRole {
  if (key === 'admin') throw new RoleImmutableError('the admin role cannot be edited', { key });
  const role = EDITABLE_COMPANY_ROLES.find((r) => r === key);
  if (!role) throw new NotFoundError(`company role ${key} not found: company roles are ${COMPANY_ROLES.join(', ')}`);
  return role;
}

// Code-unit order, not the database's collation: the ETag must not depend on the server's locale.
const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export interface StoredRoleRow {
  kind: 'company' | 'project';
  key: string;
  name: string | null;
  permissions: StoredPermission[];
}

/**
 * The roles listing from stored rows: the four company roles in their fixed order (admin
 * from the policy files, never stored; an editable role without a row has its default,
 * as the compiler does), then the project roles by key.
 */
export function buildRolesView(policies: Pick<Policies, 'companyRoles'>, rows: readonly StoredRoleRow[]): RolesView {
  const stored = new Map(rows.filter((r) => r.kind === 'company').map((r) => [r.key, r.permissions]));
  const company: CompanyRoleView[] = COMPANY_ROLES.map((key) => ({
    key,
    permissions: (key === 'admin' ? policies.companyRoles.admin : (stored.get(key) ?? policies.companyRoles[key])).map(canonicalPermission),
    editable: key !== 'admin',
  }));
  const project: ProjectRoleView[] = rows
    .filter((r) => r.kind === 'project')
    .map((r) => ({ key: r.key, name: r.name ?? r.key, permissions: r.permissions.map(canonicalPermission) }))
    .sort(byKey);
  return { company, project };
}

/** One statement, so company and project roles come from the same snapshot and the ETag matches a real state. */
async function loadRoles(db: Kysely<Database> | Transaction<Database>, policies: Policies, companyId: string): Promise<RolesView> {
  const rows = await db
    .selectFrom('company_role_permissions')
    .select([sql<'company' | 'project'>`'company'`.as('kind'), sql<string>`role`.as('key'), sql<string | null>`null::text`.as('name'), 'permissions'])
    .where('company_id', '=', companyId)
    .unionAll(
      db
        .selectFrom('project_roles')
        .select([sql<'company' | 'project'>`'project'`.as('kind'), sql<string>`key`.as('key'), sql<string | null>`name`.as('name'), 'permissions'])
        .where('company_id', '=', companyId),
    )
    .execute();
  return buildRolesView(policies, rows);
}

/**
 * D23: a role edit gives its holders, everywhere it is held now or later, whatever decisions
 * the new permissions allow that the old ones did not. Outside the admin role the caller must
 * hold each of them company-wide. Only what is added counts: narrowing a role gives nothing.
 */
function assertHoldsAdded(rights: CallerRights, catalog: Catalog, before: MongoAbility, after: MongoAbility): void {
  const added = gainedDecisions(catalog, before, after, decisionGrid(catalog, []));
  assertHolds(rights, catalog, added, 'you may only put into a role permissions you hold yourself');
}

function projectRoleIn(roles: RolesView, key: string): ProjectRoleView {
  const role = roles.project.find((r) => r.key === key);
  if (!role) throw new NotFoundError(`project role ${key} not found`);
  return role;
}

const companyTarget = (key: string) => `role:company/${key}`;
const projectTarget = (key: string) => `role:project/${key}`;

// Each write's first assertion: checked before the company lock, and again under it (see writeCompany).
const MAY_CREATE: Need = { action: 'create', subject: 'Role' };
const MAY_EDIT: Need = { action: 'edit', subject: 'Role' };
const MAY_DELETE: Need = { action: 'delete', subject: 'Role' };

export interface RolesReply<T> {
  body: T;
  etag: string;
}

export function createRolesService(deps: WriteDeps) {
  const { db, policies } = deps;
  const { catalog } = policies;

  /** The roles after a write, read in its transaction: the ETag a later GET will show. */
  async function written(trx: Transaction<Database>, companyId: string) {
    const roles = await loadRoles(trx, policies, companyId);
    return { roles, etag: rolesEtag(roles) };
  }

  return {
    async list(caller: Caller, companyId: string): Promise<RolesReply<RolesView>> {
      return readCompany(deps, caller, companyId, async (rights) => {
        assertCan(rights, { action: 'view', subject: 'Role' });
        const roles = await loadRoles(db, policies, companyId);
        return { body: roles, etag: rolesEtag(roles) };
      });
    },

    /** D9: replaces the permissions of manager, editor or collaborator in this company. */
    async updateCompanyRole(caller: Caller, companyId: string, key: string, permissions: StoredPermission[], precondition: Precondition) {
      const next = permissions.map(canonicalPermission);
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, MAY_EDIT);
        const role: CompanyRole = editableCompanyRole(key);
        const current = await loadRoles(trx, policies, companyId);
        assertPrecondition(precondition, rolesEtag(current));
        const before = current.company.find((r) => r.key === role)!.permissions;
        assertHoldsAdded(rights, catalog, companyRoleAbility(catalog, role, before), companyRoleAbility(catalog, role, next));
        await trx
          .insertInto('company_role_permissions')
          .values({ company_id: companyId, role, permissions: JSON.stringify(next) })
          .onConflict((oc) => oc.columns(['company_id', 'role']).doUpdateSet({ permissions: JSON.stringify(next) }))
          .execute();
        audit({ action: 'role.company.update', target: companyTarget(role), before: { permissions: before }, after: { permissions: next } });
        const after = await written(trx, companyId);
        return { role: after.roles.company.find((r) => r.key === role)!, etag: after.etag };
      }, { authorise: MAY_EDIT });
      return { body: { ...result.role, version }, etag: result.etag };
    },

    /** D16: a custom project role, with any subset of project permissions. */
    async createProjectRole(caller: Caller, companyId: string, input: ProjectRoleInput, precondition: Precondition) {
      const next = { key: input.key, name: input.name, permissions: input.permissions.map(canonicalPermission) };
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, MAY_CREATE);
        const current = await loadRoles(trx, policies, companyId);
        assertPrecondition(precondition, rolesEtag(current));
        if (current.project.some((r) => r.key === next.key)) throw new ConflictError(`a project role with key ${next.key} already exists`, { key: next.key });
        assertHoldsAdded(rights, catalog, projectRoleAbility(catalog, []), projectRoleAbility(catalog, next.permissions));
        try {
          await trx
            .insertInto('project_roles')
            .values({ company_id: companyId, key: next.key, name: next.name, permissions: JSON.stringify(next.permissions) })
            .execute();
        } catch (error) {
          // Writers hold the company lock, so this only backs up the look-up above.
          if (isUniqueViolation(error)) throw new ConflictError(`a project role with key ${next.key} already exists`, { key: next.key });
          throw error;
        }
        audit({ action: 'role.project.create', target: projectTarget(next.key), after: { name: next.name, permissions: next.permissions } });
        const after = await written(trx, companyId);
        return { role: projectRoleIn(after.roles, next.key), etag: after.etag };
      }, { authorise: MAY_CREATE });
      return { body: { ...result.role, version }, etag: result.etag };
    },

    async updateProjectRole(caller: Caller, companyId: string, key: string, input: Omit<ProjectRoleInput, 'key'>, precondition: Precondition) {
      const permissions = input.permissions.map(canonicalPermission);
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, MAY_EDIT);
        const current = await loadRoles(trx, policies, companyId);
        const before = projectRoleIn(current, key);
        assertPrecondition(precondition, rolesEtag(current));
        assertHoldsAdded(rights, catalog, projectRoleAbility(catalog, before.permissions), projectRoleAbility(catalog, permissions));
        await trx
          .updateTable('project_roles')
          .set({ name: input.name, permissions: JSON.stringify(permissions) })
          .where('company_id', '=', companyId)
          .where('key', '=', key)
          .execute();
        audit({
          action: 'role.project.update',
          target: projectTarget(key),
          before: { name: before.name, permissions: before.permissions },
          after: { name: input.name, permissions },
        });
        const after = await written(trx, companyId);
        return { role: projectRoleIn(after.roles, key), etag: after.etag };
      }, { authorise: MAY_EDIT });
      return { body: { ...result.role, version }, etag: result.etag };
    },

    /**
     * Refuses while the role is granted anywhere (409 with how many grants), rather than
     * silently taking access away from people; the deferred foreign key refuses it too.
     */
    async deleteProjectRole(caller: Caller, companyId: string, key: string, precondition: Precondition) {
      const stillGranted = (grants: number, projects: number) =>
        new ConflictError(`project role ${key} is still granted (${grants} grants on ${projects} projects): remove those grants first`, { key, grants, projects });
      try {
        const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
          assertCan(rights, MAY_DELETE);
          const current = await loadRoles(trx, policies, companyId);
          const before = projectRoleIn(current, key);
          if (key === CREATOR_PROJECT_ROLE) {
            throw new ConflictError(`${CREATOR_PROJECT_ROLE} is given to the creator of every project and cannot be deleted (it can be edited)`, { key });
          }
          assertPrecondition(precondition, rolesEtag(current));
          const usage = await trx
            .selectFrom('project_grants')
            .select([sql<string>`count(*)`.as('grants'), sql<string>`count(distinct project_id)`.as('projects')])
            .where('company_id', '=', companyId)
            .where('role_key', '=', key)
            .executeTakeFirstOrThrow();
          if (Number(usage.grants) > 0) throw stillGranted(Number(usage.grants), Number(usage.projects));
          await trx.deleteFrom('project_roles').where('company_id', '=', companyId).where('key', '=', key).execute();
          audit({ action: 'role.project.delete', target: projectTarget(key), before: { name: before.name, permissions: before.permissions } });
          return (await written(trx, companyId)).etag;
        }, { authorise: MAY_DELETE });
        return { body: { version }, etag: result };
      } catch (error) {
        // A grant committed by a writer that bypassed the company lock: the deferred foreign key catches it at commit.
        if (isForeignKeyViolation(error, 'project_grants_role_fk')) {
          throw new ConflictError(`project role ${key} was granted while it was being deleted: remove its grants first`, { key });
        }
        throw error;
      }
    },
  };
}

export type RolesService = ReturnType<typeof createRolesService>;
