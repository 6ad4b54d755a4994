import { sql, type Kysely } from 'kysely';

// A company's policy version must never go backwards, even across deleting the company
// and creating another with the same id: instances keep the newest version they heard
// of per company id, and clients hold versions as consistency tokens (minVersion). So the
// version row outlives its company as a tombstone instead of cascading away with it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('policy_versions').dropConstraint('policy_versions_company_id_fkey').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from policy_versions v where not exists (select 1 from companies c where c.id = v.company_id)`.execute(db);
  await db.schema
    .alterTable('policy_versions')
    .addForeignKeyConstraint('policy_versions_company_id_fkey', ['company_id'], 'companies', ['id'], (c) => c.onDelete('cascade'))
    .execute();
}
