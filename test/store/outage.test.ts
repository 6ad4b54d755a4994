import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/database.js';
import { createTestDatabase, servicesUp, type TestDatabase } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

describe.skipIf(!servicesUp)('PostgreSQL connection lost', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let store: Store;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await startTcpProxy('127.0.0.1', 5432);
    const url = new URL(database.url);
    url.port = String(proxy.port);
    store = await openStore({ databaseUrl: url.toString(), dataDir: 'unused' });
  });
  afterAll(async () => {
    await store?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('mid-transaction fails that transaction, never the process (no uncaught error event)', async () => {
    const outcome = store.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      await proxy.cut();
      // The drop reaches the checked-out client between two statements.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await sql`select 1`.execute(trx);
    });
    await expect(outcome).rejects.toThrow();
    await proxy.restore();
    // The pool recovers with a fresh connection.
    expect((await sql<{ one: number }>`select 1 as one`.execute(store.db)).rows).toEqual([{ one: 1 }]);
  });
});
