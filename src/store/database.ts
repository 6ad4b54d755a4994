import { mkdirSync } from 'node:fs';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export type StoreKind = 'postgres' | 'pglite';

export interface Store {
  readonly db: Kysely<Database>;
  readonly kind: StoreKind;
  /** Describes where the data lives, without credentials, for logs. */
  readonly location: string;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  databaseUrl?: string | undefined;
  /** Directory for embedded PGlite data; `memory://` keeps it in memory (tests). */
  dataDir: string;
  poolSize?: number;
}

/** Runs a named prepared statement: parsed and planned once per connection, then only bound and executed. */
export type PreparedQuery = <R>(name: string, text: string, values: unknown[]) => Promise<R[]>;

const preparedQueries = new WeakMap<Kysely<Database>, PreparedQuery>();

/**
 * Named prepared statements for a store on PostgreSQL through pg (kysely sends every
 * statement unnamed, so PostgreSQL plans it on every call: for a cold load's statement,
 * planning took longer than running it). Undefined for PGlite and for a transaction.
 */
export const preparedQueryOf = (db: Kysely<Database>): PreparedQuery | undefined => preparedQueries.get(db);

// pg returns int8 as a string by default, which is what we want for versions; count(*) too.
export async function openStore(options: StoreOptions): Promise<Store> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options.poolSize ?? 10) : openPglite(options.dataDir);
}

function openPostgres(databaseUrl: string, poolSize: number): Store {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize, connectionTimeoutMillis: 5000 });
  // A connection that drops must never crash the process: pg emits 'error' on the pool for an
  // idle client, and on the client itself when it is checked out between two statements of a
  // transaction (where pg-pool no longer listens). The statements using it fail on their own.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  preparedQueries.set(db, async <R>(name: string, text: string, values: unknown[]) => (await pool.query<R & pg.QueryResultRow>({ name, text, values })).rows);
  const url = new URL(databaseUrl);
  return {
    db,
    kind: 'postgres',
    location: `${url.hostname}:${url.port || 5432}${url.pathname}`,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

async function openPglite(dataDir: string): Promise<Store> {
  const [{ PGlite }, { PGliteDialect }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('kysely-pglite-dialect'),
  ]);
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const pglite = new PGlite(dataDir);
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    location: dataDir,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}
