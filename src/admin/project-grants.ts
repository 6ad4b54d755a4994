import type { Kysely, Transaction } from 'kysely';
import { NotFoundError } from '../errors.js';
import type { Catalog } from '../policy/catalog.js';
import type { StoredPermission } from '../policy/types.js';
import type { Database } from '../store/schema.js';
import { assertHolds, type CallerRights } from './context.js';
import { decisionGrid, gainedDecisions, grantsAbility } from './escalation.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A project role's permissions in this company; 404 when the company has no such role. */
export async function loadProjectRolePermissions(db: Db, companyId: string, roleKey: string): Promise<StoredPermission[]> {
  const role = await db.selectFrom('project_roles').select('permissions').where('company_id', '=', companyId).where('key', '=', roleKey).executeTakeFirst();
  if (!role) throw new NotFoundError(`project role ${roleKey} not found`, { role: roleKey });
  return role.permissions;
}

/**
 * D23 for a project grant: outside the admin role, whoever hands out or takes away a
 * project role on a project (directly, through a team's grant, or by moving someone in or
 * out of a team) must hold every decision that role gives there. Taking away counts too:
 * without it, someone allowed to edit project members could strip a stronger member.
 */
export async function assertHoldsProjectRole(
  db: Db,
  rights: CallerRights,
  catalog: Catalog,
  projectId: string,
  roleKey: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  const permissions = await loadProjectRolePermissions(db, rights.companyId, roleKey);
  const given = gainedDecisions(catalog, null, grantsAbility(catalog, [{ projectId, roleKey, permissions }]), decisionGrid(catalog, [projectId]));
  assertHolds(rights, catalog, given, `you may not grant or revoke role ${roleKey} on project ${projectId}: you do not hold all its permissions there`, {
    ...details,
    role: roleKey,
    projectId,
  });
}
