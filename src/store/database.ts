import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
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

/** Runs a named prepared statement: parsed and planned once per connection, then only bound and executed. */
export type PreparedQuery = <R>(name: string, text: string, values: unknown[]) => Promise<R[]>;

const preparedQueries = new WeakMap<Kysely<Database>, PreparedQuery>();

/** Runs `work` once on each connection the pool keeps, all of them checked out at once. */
export type OnEachKeptConnection = (work: (query: PreparedQuery) => Promise<unknown>) => Promise<void>;

const keptConnections = new WeakMap<Kysely<Database>, OnEachKeptConnection>();

/** Undefined for PGlite (one connection, in process). */
export const onEachKeptConnection = (db: Kysely<Database>): OnEachKeptConnection | undefined => keptConnections.get(db);

/**
 * Connections the pool keeps open however long they sit idle (pg-pool's `min`; above it, an
 * idle connection closes after 10 s). Without them, the first cold load after a quiet spell
 * paid a new connection (TCP, start-up, authentication: several milliseconds on loopback,
 * tens with TLS to a remote server) and a new backend's first statement (its catalog caches,
 * the prepared statement): the cold load's tail was mostly that.
 */
export const KEPT_CONNECTIONS = 2;

/**
 * Named prepared statements for a store on PostgreSQL through pg (kysely sends every
 * statement unnamed, so PostgreSQL plans it on every call: for a cold load's statement,
 * planning took longer than running it). Undefined for PGlite and for a transaction.
 */
export const preparedQueryOf = (db: Kysely<Database>): PreparedQuery | undefined => preparedQueries.get(db);

// pg returns int8 as a string by default, which is what we want for versions; count(*) too.
export async function openStore(options: StoreOptions): Promise<Store> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPglite(options.dataDir, options.opener ?? 'a castellan server');
}

/** A read-only PostgreSQL (DATABASE_READ_URL): every transaction on it is read-only, whatever the server is. */
export function openReadReplica(databaseUrl: string, options: PoolOptions): Store {
  return openPostgres(databaseUrl, options, { readOnly: true });
}

function openPostgres(databaseUrl: string, options: PoolOptions, { readOnly = false } = {}): Store {
  const size = options.poolSize ?? 10;
  const kept = Math.min(KEPT_CONNECTIONS, size);
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: size,
    min: kept,
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
  preparedQueries.set(db, async <R>(name: string, text: string, values: unknown[]) => (await pool.query<R & pg.QueryResultRow>({ name, text, values })).rows);
  keptConnections.set(db, async (work) => {
    const clients = await Promise.all(Array.from({ length: kept }, () => pool.connect()));
    try {
      await Promise.all(clients.map((client) => work(async <R>(name: string, text: string, values: unknown[]) => (await client.query<R & pg.QueryResultRow>({ name, text, values })).rows)));
    } finally {
      for (const client of clients) client.release();
    }
  });
  const url = new URL(databaseUrl);
  return {
    db,
    kind: 'postgres',
    location: `${url.hostname}:${url.port || 5432}${url.pathname}`,
    ping: () => readsItsTables(db),
    close: () => db.destroy(),
  };
}

/**
 * PGlite's shared buffers: 16 MiB instead of its 128 MiB. Embedded mode is for one instance with
 * a small dataset (a development machine, a demo, a single small deployment); the data files
 * sit in the operating system's page cache anyway, and every MiB here is resident memory.
 */
const EMBEDDED_SHARED_BUFFERS = '16MB';

/**
 * Creates a new PGlite data directory in a child process. initdb runs as a WebAssembly module of
 * its own, whose memory (about 500 MiB) PGlite keeps referenced after it is done: done here, a
 * fresh start was 817 MiB of RSS for good. The child exits and gives it all back.
 */
async function initPgliteDirectory(dataDir: string): Promise<void> {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const script = 'const { PGlite } = require(process.argv[1]); (async () => { const pg = new PGlite(process.argv[2]); await pg.waitReady; await pg.close(); })().catch((error) => { console.error(error); process.exit(1); });';
  const child = spawn(process.execPath, ['-e', script, entry, dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-2000)));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`could not create the embedded database in ${dataDir}: ${errors.trim() || `exit code ${code}`}`);
}

async function openPglite(dataDir: string, opener: string): Promise<Store> {
  const [{ PGlite }, { PGliteDialect }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('kysely-pglite-dialect'),
  ]);
  const inMemory = dataDir.startsWith('memory://');
  let lock: DataDirLock | undefined;
  if (!inMemory) {
    mkdirSync(dataDir, { recursive: true });
    // Before anything opens the directory, initdb's child included.
    lock = lockDataDir(dataDir, opener);
  }
  let pglite: InstanceType<typeof PGlite>;
  try {
    if (!inMemory && !existsSync(path.join(dataDir, 'PG_VERSION'))) await initPgliteDirectory(dataDir);
    pglite = new PGlite(dataDir, { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${EMBEDDED_SHARED_BUFFERS}`] });
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
