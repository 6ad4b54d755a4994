import { mkdirSync } from 'node:fs';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
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
  /** Who opens an embedded directory, named to a second opener it refuses (default "a castellan server"). */
  opener?: string;
}

/**
 * Readiness reads a table the check path reads: `select 1` answers from a server whose data
 * files are damaged (an embedded directory reset under a running server answered it while
 * every real read failed).
 */
async function readsItsTables(db: Kysely<Database>): Promise<void> {
  await sql`select company_id from policy_versions limit 1`.execute(db);
}

// pg returns int8 as a string by default, which is what we want for versions; count(*) too.
export async function openStore(options: StoreOptions): Promise<Store> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options.poolSize ?? 10) : openPglite(options.dataDir, options.opener ?? 'a castellan server');
}

function openPostgres(databaseUrl: string, poolSize: number): Store {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize, connectionTimeoutMillis: 5000 });
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
    ping: () => readsItsTables(db),
    close: () => db.destroy(),
  };
}

async function openPglite(dataDir: string, opener: string): Promise<Store> {
  const [{ PGlite }, { PGliteDialect }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('kysely-pglite-dialect'),
  ]);
  let lock: DataDirLock | undefined;
  if (!dataDir.startsWith('memory://')) {
    mkdirSync(dataDir, { recursive: true });
    lock = lockDataDir(dataDir, opener);
  }
  const pglite = new PGlite(dataDir);
  try {
    await pglite.waitReady;
  } catch (error) {
    lock?.release();
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    location: dataDir,
    ping: () => readsItsTables(db),
    close: async () => {
      try {
        await db.destroy();
        if (!pglite.closed) await pglite.close();
      } finally {
        lock?.release();
      }
    },
  };
}
