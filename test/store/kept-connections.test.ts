import pg from 'pg';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEPT_CONNECTIONS, openStore, type Store } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { loadPrincipalFacts, warmPrincipalLoads } from '../../src/store/principal-facts.js';
import { createTestDatabase, servicesUp, type TestDatabase } from '../support/services.js';

const IDLE_CLOSE_MS = 10_000; // pg-pool's idleTimeoutMillis, left at its default
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The first cold load after a quiet spell paid for a new connection and a new backend's first
 * statement: pg-pool closed every idle connection after 10 s. Now the pool keeps some open,
 * and a start warms them with the load statement.
 */
describe.skipIf(!servicesUp)('kept database connections', () => {
  let database: TestDatabase;
  let store: Store;
  let observer: pg.Client;

  const backends = async () =>
    (await observer.query<{ pid: number }>(`select pid from pg_stat_activity where datname = $1 and application_name = 'castellan' order by pid`, [database.name])).rows.map((row) => row.pid);

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url, dataDir: 'memory://', poolSize: 8 });
    await migrateToLatest(store.db);
    observer = new pg.Client({ connectionString: database.url, application_name: 'observer' });
    await observer.connect();
  }, 60_000);
  afterAll(async () => {
    await observer?.end();
    await store?.close();
    await database?.drop();
  });

  it('a start opens the kept connections and prepares the load statement on each; they outlive the idle timeout, the extra ones do not', { timeout: 60_000 }, async () => {
    expect(KEPT_CONNECTIONS).toBe(2);
    // Migrating used one connection; it closes once idle like any above the kept number would not.
    await warmPrincipalLoads(store.db);
    const warmed = await backends();
    expect(warmed.length).toBe(KEPT_CONNECTIONS);

    // A burst opens more; once idle past the timeout, only the kept ones remain, the same backends.
    await Promise.all(Array.from({ length: 6 }, () => sql`select pg_sleep(0.3)`.execute(store.db)));
    expect((await backends()).length).toBe(6);
    await sleep(IDLE_CLOSE_MS + 2_000);
    const after = await backends();
    expect(after.length).toBe(KEPT_CONNECTIONS);

    // A load then runs on a kept backend: no new connection.
    expect(await loadPrincipalFacts(store.db, 'nobody', 'u1')).toMatchObject({ version: null });
    expect(await backends()).toEqual(after);
  });
});
