import { sql, type Kysely } from 'kysely';

// D22: the audit log outlives its company. Deleting a company must not erase who changed
// what in it, nor who deleted it; ids are never reused (the policy version tombstone
// refuses them), so a deleted company's entries stay unambiguous under its id.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_log').dropConstraint('audit_log_company_id_fkey').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from audit_log a where not exists (select 1 from companies c where c.id = a.company_id)`.execute(db);
  await db.schema
    .alterTable('audit_log')
    .addForeignKeyConstraint('audit_log_company_id_fkey', ['company_id'], 'companies', ['id'], (c) => c.onDelete('cascade'))
    .execute();
}
