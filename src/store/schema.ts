import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** PostgreSQL `bigint` comes back from pg as a string; kept as one to stay bigint-safe. */
type BigIntColumn = ColumnType<string, string | number | bigint, string | number | bigint>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Json<T> = ColumnType<T, string, string>;

export type { CompanyRole, MembershipStatus, StoredPermission } from '../policy/types.js';
import type { CompanyRole, MembershipStatus, StoredPermission } from '../policy/types.js';
export type UserKind = 'platform' | 'local';

export interface UsersTable {
  id: string;
  kind: UserKind;
  email: string | null;
  created_at: CreatedAt;
}

export interface CompaniesTable {
  id: string;
  name: string;
  plan_name: string;
  user_licenses: number;
  developer_licenses: number;
  created_at: CreatedAt;
}

export interface PolicyVersionsTable {
  company_id: string;
  version: ColumnType<string, string | number | bigint | undefined, string | number | bigint>;
}

export interface CompanyDomainsTable {
  domain: string;
  company_id: string;
}

export interface MembershipsTable {
  company_id: string;
  user_id: string;
  status: MembershipStatus;
  role: CompanyRole;
  owner: ColumnType<boolean, boolean | undefined, boolean>;
  application_access: ColumnType<boolean, boolean | undefined, boolean>;
  developer_access: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  /** When the invitation lapses; meaningful only while `status` is `invited` (the column default fills the rest). */
  invitation_expires_at: ColumnType<Date, Date | string | undefined, Date | string>;
  /** Who sent (or last re-sent) the invitation. */
  invited_by: string | null;
}

export interface LocalCredentialsTable {
  user_id: string;
  company_id: string;
  login: string;
  password_hash: string;
  first_name: string;
  last_name: string;
  failed_attempts: ColumnType<number, number | undefined, number>;
  locked_until: Date | null;
}

export interface CompanyRolePermissionsTable {
  company_id: string;
  role: CompanyRole;
  permissions: Json<StoredPermission[]>;
}

export interface ProjectRolesTable {
  company_id: string;
  key: string;
  name: string;
  permissions: Json<StoredPermission[]>;
}

export interface TeamsTable {
  company_id: string;
  id: string;
  name: string;
}

export interface TeamMembersTable {
  company_id: string;
  team_id: string;
  user_id: string;
}

export interface ProjectsTable {
  company_id: string;
  id: string;
  name: string;
  created_by: string | null;
  created_at: CreatedAt;
}

export interface ProjectGrantsTable {
  id: Generated<string>;
  company_id: string;
  project_id: string;
  role_key: string;
  user_id: string | null;
  team_id: string | null;
}

export interface AuditLogTable {
  id: Generated<string>;
  company_id: string;
  at: CreatedAt;
  actor: string;
  action: string;
  target: string;
  before: Json<unknown> | null;
  after: Json<unknown> | null;
  version: BigIntColumn;
  /** The write carried the platform operator's credential. */
  operator: ColumnType<boolean, boolean | undefined, boolean>;
}

/** Webhook events waiting for delivery (src/webhooks/outbox.ts); delivered rows are deleted. */
export interface WebhookOutboxTable {
  id: Generated<string>;
  company_id: string;
  event_id: string;
  type: string;
  /** The exact JSON sent: every retry signs the same bytes. */
  body: string;
  created_at: CreatedAt;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_error: string | null;
  lease_token: string | null;
  lease_until: Date | null;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  private_jwk: Json<Record<string, unknown>>;
  public_jwk: Json<Record<string, unknown>>;
  created_at: CreatedAt;
}

export interface Database {
  users: UsersTable;
  companies: CompaniesTable;
  policy_versions: PolicyVersionsTable;
  company_domains: CompanyDomainsTable;
  memberships: MembershipsTable;
  local_credentials: LocalCredentialsTable;
  company_role_permissions: CompanyRolePermissionsTable;
  project_roles: ProjectRolesTable;
  teams: TeamsTable;
  team_members: TeamMembersTable;
  projects: ProjectsTable;
  project_grants: ProjectGrantsTable;
  audit_log: AuditLogTable;
  signing_keys: SigningKeysTable;
  webhook_outbox: WebhookOutboxTable;
}

export type Membership = Selectable<MembershipsTable>;
export type NewMembership = Insertable<MembershipsTable>;
export type Company = Selectable<CompaniesTable>;
