import { sql, type Kysely } from 'kysely';

// Migrations are frozen in time: they import nothing from src/, so later code
// changes cannot silently rewrite history.

const ROLE_CHECK = sql`role in ('admin', 'manager', 'editor', 'collaborator')`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('platform', 'local')`))
    .addColumn('email', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('users_email_idx').on('users').column('email').execute();

  await db.schema
    .createTable('companies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('plan_name', 'text', (c) => c.notNull())
    .addColumn('user_licenses', 'integer', (c) => c.notNull().check(sql`user_licenses >= 0`))
    .addColumn('developer_licenses', 'integer', (c) => c.notNull().check(sql`developer_licenses >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // The policy version lives in its own row: every decision-changing write bumps it
  // first, which both stamps caches and serialises writers of one company.
  await db.schema
    .createTable('policy_versions')
    .addColumn('company_id', 'text', (c) => c.primaryKey().references('companies.id').onDelete('cascade'))
    .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(1).check(sql`version > 0`))
    .execute();

  await db.schema
    .createTable('company_domains')
    .addColumn('domain', 'text', (c) => c.primaryKey().check(sql`domain = lower(domain)`))
    .addColumn('company_id', 'text', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('company_domains_company_idx').on('company_domains').column('company_id').execute();

  await db.schema
    .createTable('memberships')
    .addColumn('company_id', 'text', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade').onUpdate('cascade'))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('invited', 'active', 'inactive')`))
    .addColumn('role', 'text', (c) => c.notNull().check(ROLE_CHECK))
    .addColumn('owner', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('application_access', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('developer_access', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('memberships_pk', ['company_id', 'user_id'])
    // The owner is always an admin: ownership passes only to admins and an owner
    // must hand the tag on before being demoted.
    .addCheckConstraint('memberships_owner_is_admin', sql`not owner or role = 'admin'`)
    .execute();
  await db.schema
    .createIndex('memberships_one_owner')
    .on('memberships')
    .column('company_id')
    .unique()
    .where(sql.ref('owner'), '=', true)
    .execute();
  await db.schema.createIndex('memberships_user_idx').on('memberships').column('user_id').execute();

  await db.schema
    .createTable('local_credentials')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade').onUpdate('cascade'))
    .addColumn('company_id', 'text', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    .addColumn('login', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('first_name', 'text', (c) => c.notNull())
    .addColumn('last_name', 'text', (c) => c.notNull())
    .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', 'timestamptz')
    .addUniqueConstraint('local_credentials_login_unique', ['company_id', 'login'])
    .execute();

  await db.schema
    .createTable('company_role_permissions')
    .addColumn('company_id', 'text', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull().check(ROLE_CHECK))
    .addColumn('permissions', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('company_role_permissions_pk', ['company_id', 'role'])
    .execute();

  await db.schema
    .createTable('project_roles')
    .addColumn('company_id', 'text', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('permissions', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('project_roles_pk', ['company_id', 'key'])
    .execute();

  await db.schema
    .createTable('teams')
    .addColumn('company_id', 'text', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('teams_pk', ['company_id', 'id'])
    .execute();

  // Team members and grants reference the membership, not the bare user: the
  // database itself keeps a person of company B out of company A's teams and grants.
  await db.schema
    .createTable('team_members')
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('team_members_pk', ['company_id', 'team_id', 'user_id'])
    .addForeignKeyConstraint('team_members_team_fk', ['company_id', 'team_id'], 'teams', ['company_id', 'id'], (c) =>
      c.onDelete('cascade'),
    )
    .addForeignKeyConstraint(
      'team_members_membership_fk',
      ['company_id', 'user_id'],
      'memberships',
      ['company_id', 'user_id'],
      (c) => c.onDelete('cascade').onUpdate('cascade'),
    )
    .execute();
  await db.schema.createIndex('team_members_user_idx').on('team_members').columns(['company_id', 'user_id']).execute();

  await db.schema
    .createTable('projects')
    .addColumn('company_id', 'text', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('projects_pk', ['company_id', 'id'])
    .execute();

  await db.schema
    .createTable('project_grants')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('role_key', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('team_id', 'text')
    .addCheckConstraint('project_grants_one_grantee', sql`(user_id is null) <> (team_id is null)`)
    .addForeignKeyConstraint('project_grants_project_fk', ['company_id', 'project_id'], 'projects', ['company_id', 'id'], (c) =>
      c.onDelete('cascade'),
    )
    // A project role still granted somewhere cannot be deleted (409 conflict). Checked at
    // commit, so deleting the whole company (which cascades to grants and roles alike) works.
    .addForeignKeyConstraint('project_grants_role_fk', ['company_id', 'role_key'], 'project_roles', ['company_id', 'key'], (c) =>
      c.onDelete('no action').onUpdate('cascade').deferrable().initiallyDeferred(),
    )
    .addForeignKeyConstraint(
      'project_grants_membership_fk',
      ['company_id', 'user_id'],
      'memberships',
      ['company_id', 'user_id'],
      (c) => c.onDelete('cascade').onUpdate('cascade'),
    )
    .addForeignKeyConstraint('project_grants_team_fk', ['company_id', 'team_id'], 'teams', ['company_id', 'id'], (c) =>
      c.onDelete('cascade'),
    )
    .execute();
  await db.schema
    .createIndex('project_grants_user_unique')
    .on('project_grants')
    .columns(['company_id', 'user_id', 'project_id'])
    .unique()
    .where(sql.ref('user_id'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('project_grants_team_unique')
    .on('project_grants')
    .columns(['company_id', 'team_id', 'project_id'])
    .unique()
    .where(sql.ref('team_id'), 'is not', null)
    .execute();
  await db.schema.createIndex('project_grants_project_idx').on('project_grants').columns(['company_id', 'project_id']).execute();
  await db.schema.createIndex('project_grants_role_idx').on('project_grants').columns(['company_id', 'role_key']).execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('before', 'jsonb')
    .addColumn('after', 'jsonb')
    .addColumn('version', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_company_idx').on('audit_log').columns(['company_id', 'id']).execute();

  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('alg', 'text', (c) => c.notNull())
    .addColumn('private_jwk', 'jsonb', (c) => c.notNull())
    .addColumn('public_jwk', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'signing_keys',
    'audit_log',
    'project_grants',
    'projects',
    'team_members',
    'teams',
    'project_roles',
    'company_role_permissions',
    'local_credentials',
    'memberships',
    'company_domains',
    'policy_versions',
    'companies',
    'users',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
