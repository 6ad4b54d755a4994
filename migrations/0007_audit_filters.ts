import { sql, type Kysely } from 'kysely';

// Issue 15: the audit log is filtered by actor (exact) and by target (a prefix) on the server.
// The actor index hands rows over in id order, the page order; the target one serves LIKE
// 'prefix%' whatever the database's collation (text_pattern_ops), and sorts what matches.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index audit_log_actor_idx on audit_log (company_id, actor, id)`.execute(db);
  await sql`create index audit_log_target_idx on audit_log (company_id, target text_pattern_ops, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index audit_log_target_idx`.execute(db);
  await sql`drop index audit_log_actor_idx`.execute(db);
}
