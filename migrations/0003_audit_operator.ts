import { type Kysely } from 'kysely';

// Plans, licenses and verified domains are the platform's to set (D14, D4): the audit log
// says which writes carried the platform operator's credential, beside a user or alone.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_log').addColumn('operator', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_log').dropColumn('operator').execute();
}
