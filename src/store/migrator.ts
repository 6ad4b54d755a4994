import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Migrator, NO_MIGRATIONS, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';

/**
 * Compiled code lives in dist/store and finds dist/migrations; the TypeScript
 * sources (tests) live in src/store and find the top-level migrations/ folder.
 */
export function migrationsFolder(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../migrations'), path.resolve(here, '../../migrations')];
  const found = candidates.find((dir) => existsSync(path.join(dir, '0001_initial.js')) || existsSync(path.join(dir, '0001_initial.ts')));
  if (!found) throw new Error(`No migrations folder found (looked in ${candidates.join(', ')})`);
  return found;
}

const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.(js|ts)$/;

/**
 * Our own provider instead of kysely's FileMigrationProvider: the import happens in
 * this module, so under vitest the TypeScript migrations go through its transform.
 */
const folderProvider = (folder: string): MigrationProvider => ({
  async getMigrations() {
    const files = (await fs.readdir(folder)).filter((name) => MIGRATION_FILE.test(name)).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const module = (await import(pathToFileURL(path.join(folder, file)).href)) as Migration;
      migrations[file.replace(/\.(js|ts)$/, '')] = module;
    }
    return migrations;
  },
});

export function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: folderProvider(migrationsFolder()) });
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

function unwrap({ error, results }: MigrationResultSet): string[] {
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new MigrationError(`Migration ${failed?.migrationName ?? '(unknown)'} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return (results ?? []).map((r) => `${r.direction === 'Up' ? 'applied' : 'reverted'} ${r.migrationName}`);
}

/**
 * Migrations run on one connection with no statement timeout: an index built over millions of
 * grants may take minutes, where DATABASE_STATEMENT_TIMEOUT_MS bounds the service's statements.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  return db.connection().execute(async (connection) => {
    await sql`set statement_timeout = 0`.execute(connection);
    try {
      return unwrap(await createMigrator(connection).migrateToLatest());
    } finally {
      await sql`reset statement_timeout`.execute(connection);
    }
  });
}

export async function migrateDown(db: Kysely<any>): Promise<string[]> {
  return unwrap(await createMigrator(db).migrateDown());
}

export async function migrateAllDown(db: Kysely<any>): Promise<string[]> {
  return unwrap(await createMigrator(db).migrateTo(NO_MIGRATIONS));
}
