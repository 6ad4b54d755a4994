import { sql, type Kysely, type Transaction } from 'kysely';
import { preparedQueryOf } from './database.js';
import type { Database } from './schema.js';

/**
 * Bumps a company's policy version inside the caller's transaction and returns the
 * new value (null when the company id was never used). The row lock it takes also serialises concurrent writers of one company,
 * which is what keeps invariants such as "one active admin" and license counts true
 * under concurrent requests.
 */
export async function bumpPolicyVersion(trx: Transaction<Database>, companyId: string): Promise<string | null> {
  const row = await trx
    .updateTable('policy_versions')
    .set({ version: sql`version + 1` })
    .where('company_id', '=', companyId)
    .returning('version')
    .executeTakeFirst();
  return row ? String(row.version) : null;
}

/** Takes the company's write lock without changing its version (for writes that change no decision). */
export async function lockCompany(trx: Transaction<Database>, companyId: string): Promise<string | null> {
  const row = await trx
    .selectFrom('policy_versions')
    .select('version')
    .where('company_id', '=', companyId)
    .forUpdate()
    .executeTakeFirst();
  return row ? String(row.version) : null;
}

/** On every cold load and staleness check: a prepared statement where the store has them (see preparedQueryOf). */
export async function readPolicyVersion(db: Kysely<Database>, companyId: string): Promise<string | null> {
  const prepared = preparedQueryOf(db);
  if (prepared) {
    const rows = await prepared<{ version: string }>('castellan_read_version', 'select version::text as version from policy_versions where company_id = $1', [companyId]);
    return rows[0]?.version ?? null;
  }
  const row = await db.selectFrom('policy_versions').select('version').where('company_id', '=', companyId).executeTakeFirst();
  return row ? String(row.version) : null;
}

/**
 * Creates a new company's version row. Null when the id was ever used: a deleted company
 * leaves its row behind as a tombstone, and its id is never handed out again, because
 * downstream services still keep data under it and a newcomer with that id would
 * administer all of it.
 */
export async function startPolicyVersion(trx: Transaction<Database>, companyId: string): Promise<string | null> {
  const row = await trx
    .insertInto('policy_versions')
    .values({ company_id: companyId, version: 1 })
    .onConflict((oc) => oc.column('company_id').doNothing())
    .returning('version')
    .executeTakeFirst();
  return row ? String(row.version) : null;
}
