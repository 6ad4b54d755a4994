import { sql, type Kysely } from 'kysely';

// Invitations expire (INVITATION_TTL), and the platform hears of invitations and removals
// through a webhook fed from a transactional outbox.
//
// Rolling updates: the previous release inserts invitations without an expiry, so the column
// has a default (the default INVITATION_TTL, 14 days) that keeps the constraint true for its
// rows. The column means something only while the membership's status is `invited`; existing
// rows get the default too, so invitations already waiting get a full term from now rather
// than lapsing the moment this runs.

const ASCII_UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ASCII_LOWER = 'abcdefghijklmnopqrstuvwxyz';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('memberships')
    .addColumn('invitation_expires_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now() + interval '14 days'`))
    .addColumn('invited_by', 'text')
    .execute();

  // Invitations are matched to a token's email after ASCII case folding (translate, never lower():
  // see src/admin/users.ts), across companies for GET /v1/me: index that very expression.
  await sql`create index users_email_ascii_fold_idx on users (translate(email, ${sql.lit(ASCII_UPPER)}, ${sql.lit(ASCII_LOWER)}))`.execute(db);

  // The outbox: written in the transaction of the change it announces, delivered afterwards in
  // id order per company (ids are taken under the company's write lock, so id order is commit
  // order within a company). `body` is the exact JSON sent, so every retry signs the same bytes.
  // No foreign key to companies: an event outlives the company it is about.
  await db.schema
    .createTable('webhook_outbox')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_error', 'text')
    // Which delivery attempt holds the company's head event, and until when (see src/webhooks/outbox.ts).
    .addColumn('lease_token', 'uuid')
    .addColumn('lease_until', 'timestamptz')
    .execute();
  await db.schema.createIndex('webhook_outbox_company_idx').on('webhook_outbox').columns(['company_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_outbox').execute();
  await db.schema.dropIndex('users_email_ascii_fold_idx').execute();
  await db.schema.alterTable('memberships').dropColumn('invited_by').dropColumn('invitation_expires_at').execute();
}
