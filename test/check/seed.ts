import type { Kysely, Transaction } from 'kysely';
import type { Policies } from '../../src/policy/catalog.js';
import type { CompanyRole, MembershipStatus, StoredPermission } from '../../src/policy/types.js';
import type { Database } from '../../src/store/schema.js';
import { bumpPolicyVersion } from '../../src/store/versions.js';

export interface SeedMember {
  id: string;
  role: CompanyRole;
  status?: MembershipStatus;
  owner?: boolean;
  applicationAccess?: boolean;
  developerAccess?: boolean;
}

export interface SeedCompany {
  id: string;
  members: SeedMember[];
  teams?: Array<{ id: string; members: string[] }>;
  projects?: string[];
  projectRoles?: Array<{ key: string; name?: string; permissions: StoredPermission[] }>;
  companyRoles?: Partial<Record<'manager' | 'editor' | 'collaborator', StoredPermission[]>>;
  grants?: Array<{ project: string; role: string; user?: string; team?: string }>;
}

/**
 * Writes a company straight into the database, as the admin API would leave it:
 * default roles copied from the policy files, then the given overrides.
 */
export async function seedCompany(db: Kysely<Database>, policies: Policies, company: SeedCompany): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const userIds = company.members.map((m) => m.id);
    if (userIds.length) {
      await trx
        .insertInto('users')
        .values(userIds.map((id) => ({ id, kind: 'platform' as const, email: `${id}@example.test` })))
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    }
    await trx.insertInto('companies').values({ id: company.id, name: company.id, plan_name: 'enterprise', user_licenses: 1000, developer_licenses: 1000 }).execute();
    await trx.insertInto('policy_versions').values({ company_id: company.id }).execute();
    await trx
      .insertInto('company_role_permissions')
      .values(
        (['manager', 'editor', 'collaborator'] as const).map((role) => ({
          company_id: company.id,
          role,
          permissions: JSON.stringify(company.companyRoles?.[role] ?? policies.companyRoles[role]),
        })),
      )
      .execute();
    const projectRoles = [...policies.projectRoles, ...(company.projectRoles ?? []).map((r) => ({ name: r.key, ...r }))];
    await trx
      .insertInto('project_roles')
      .values(projectRoles.map((r) => ({ company_id: company.id, key: r.key, name: r.name, permissions: JSON.stringify(r.permissions) })))
      .execute();
    if (company.members.length) {
      await trx
        .insertInto('memberships')
        .values(
          company.members.map((m) => ({
            company_id: company.id,
            user_id: m.id,
            role: m.role,
            status: m.status ?? 'active',
            owner: m.owner ?? false,
            application_access: m.applicationAccess ?? false,
            developer_access: m.developerAccess ?? false,
          })),
        )
        .execute();
    }
    for (const team of company.teams ?? []) {
      await trx.insertInto('teams').values({ company_id: company.id, id: team.id, name: team.id }).execute();
      if (team.members.length) {
        await trx.insertInto('team_members').values(team.members.map((user) => ({ company_id: company.id, team_id: team.id, user_id: user }))).execute();
      }
    }
    if (company.projects?.length) {
      await trx.insertInto('projects').values(company.projects.map((id) => ({ company_id: company.id, id, name: id }))).execute();
    }
    if (company.grants?.length) {
      await trx
        .insertInto('project_grants')
        .values(company.grants.map((g) => ({ company_id: company.id, project_id: g.project, role_key: g.role, user_id: g.user ?? null, team_id: g.team ?? null })))
        .execute();
    }
  });
}

/** A decision-changing write as the admin API does it: change, bump the version in the same transaction. */
export async function writeAndBump(db: Kysely<Database>, companyId: string, change: (trx: Transaction<Database>) => Promise<unknown>): Promise<string> {
  return db.transaction().execute(async (trx) => {
    await change(trx);
    const version = await bumpPolicyVersion(trx, companyId);
    if (version === null) throw new Error(`no company ${companyId}`);
    return version;
  });
}
