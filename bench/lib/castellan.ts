import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

/** The repository root: the nearest folder up with package.json and policies/ (from dist/bench/lib, or bench/lib when a test runs the source). */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'policies'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}
export const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

interface MigratorModule {
  migrateToLatest(db: Kysely<object>): Promise<string[]>;
}

/**
 * Applies the project's own migrations (the compiled dist/store/migrator.js, which finds
 * dist/migrations), so the bench schema is exactly the product's. Imported by path at run
 * time: the bench is compiled on its own and does not pull src/ into its program.
 */
export async function migrate(databaseUrl: string): Promise<void> {
  const migrator = (await import(pathToFileURL(path.join(ROOT, 'dist/store/migrator.js')).href)) as MigratorModule;
  const db = new Kysely<object>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 1 }) }) });
  try {
    await migrator.migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}
