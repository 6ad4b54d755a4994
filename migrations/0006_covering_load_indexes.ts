import { sql, type Kysely } from 'kysely';

// Issue 16, cold loads: a principal's load reads its grants, direct and through its teams,
// by index. With the rest of each row in the index (INCLUDE), PostgreSQL answers from the
// index alone (an index-only scan, once vacuum has marked the pages all-visible) instead of
// one heap fetch per grant: 5,000 grants were about 5,000 buffer reads. The unique indexes
// keep their names and keys (admin writes and tests name them), and gain only the columns
// the load reads.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop index project_grants_user_unique`.execute(db);
  await sql`create unique index project_grants_user_unique on project_grants (company_id, user_id, project_id) include (role_key, id) where user_id is not null`.execute(db);
  await sql`drop index project_grants_team_unique`.execute(db);
  await sql`create unique index project_grants_team_unique on project_grants (company_id, team_id, project_id) include (role_key, id) where team_id is not null`.execute(db);
  await sql`drop index team_members_user_idx`.execute(db);
  await sql`create index team_members_user_idx on team_members (company_id, user_id) include (team_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index team_members_user_idx`.execute(db);
  await sql`create index team_members_user_idx on team_members (company_id, user_id)`.execute(db);
  await sql`drop index project_grants_team_unique`.execute(db);
  await sql`create unique index project_grants_team_unique on project_grants (company_id, team_id, project_id) where team_id is not null`.execute(db);
  await sql`drop index project_grants_user_unique`.execute(db);
  await sql`create unique index project_grants_user_unique on project_grants (company_id, user_id, project_id) where user_id is not null`.execute(db);
}
