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

export interface PoolOptions {
  /** Connections in the pool (DATABASE_POOL_SIZE). */
  poolSize?: number | undefined;
  /** Server-side bound of each statement in milliseconds; 0 or left out: none. */
  statementTimeoutMs?: number | undefined;
}

export interface StoreOptions extends PoolOptions {
  databaseUrl?: string | undefined;
  /** Directory for embedded PGlite data; `memory://` keeps it in memory (tests). */
  dataDir: string;
}

// pg returns int8 as a string by default, which is what we want for versions; count(*) too.
export async function openStore(options: StoreOptions): Promise<Store> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPglite(options.dataDir);
}

/** A read-only PostgreSQL (DATABASE_READ_URL): every transaction on it is read-only, whatever the server is. */
export function openReadReplica(databaseUrl: string, options: PoolOptions): Store {
  return openPostgres(databaseUrl, options, { readOnly: true });
}

function openPostgres(databaseUrl: string, options: PoolOptions, { readOnly = false } = {}): Store {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
    // Names the connections in pg_stat_activity, for an operator counting them against max_connections.
    application_name: readOnly ? 'castellan-read' : 'castellan',
    // Sent with the connection's start-up: the server cancels a statement past it (57014), which
    // frees the connection; the caller gets an error, and the check path a 503.
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
  });
  // A connection that drops must never crash the process: pg emits 'error' on the pool for an
  // idle client, and on the client itself when it is checked out between two statements of a
  // transaction (where pg-pool no longer listens). The statements using it fail on their own.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
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
