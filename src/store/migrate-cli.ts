import { loadConfig } from '../config.js';
import { openStore } from './database.js';
import { migrateAllDown, migrateDown, migrateToLatest } from './migrator.js';

// npm run migrate [up|down|reset]
const command = process.argv[2] ?? 'up';
const config = loadConfig();
const store = await openStore({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 1 });
try {
  const run = { up: migrateToLatest, down: migrateDown, reset: migrateAllDown }[command];
  if (!run) throw new Error(`unknown command "${command}" (use up, down or reset)`);
  const done = await run(store.db);
  console.log(done.length ? done.join('\n') : 'nothing to do');
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await store.close();
}
