import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrator.js';

describe('embedded PGlite', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'castellan-embedded-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('creates a new data directory in a child process, runs with 16 MB of shared buffers, and keeps its data across a restart', async () => {
    const dataDir = path.join(root, 'data');
    const first = await openStore({ dataDir });
    expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    expect((await sql<{ shared_buffers: string }>`show shared_buffers`.execute(first.db)).rows).toEqual([{ shared_buffers: '16MB' }]);
    await migrateToLatest(first.db);
    await first.db.insertInto('users').values({ id: 'kept', kind: 'platform', email: null }).execute();
    await first.close();

    const again = await openStore({ dataDir });
    expect(await again.db.selectFrom('users').select('id').execute()).toEqual([{ id: 'kept' }]);
    await again.close();
  }, 120_000);
});
