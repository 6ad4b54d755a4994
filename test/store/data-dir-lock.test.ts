import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, LOCK_FILE } from '../../src/store/data-dir-lock.js';
import { openStore } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrator.js';

/**
 * Issue 18, item 1: `npm run migrate -- reset` beside a running embedded server corrupted its
 * data silently (the server then answered 200 with nothing, 500s, and after a restart every
 * admin call failed until the directory was deleted).
 */
const migrateCli = path.resolve(import.meta.dirname, '../../dist/store/migrate-cli.js');
const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'castellan-lock-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const migrate = (dataDir: string, ...args: string[]) =>
  spawnSync(process.execPath, [migrateCli, ...args], { env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'silent' }, encoding: 'utf8', timeout: 240_000 });

describe('the embedded data directory serves one process', () => {
  it('a second opener, here npm run migrate, refuses with one line naming the holder, and touches nothing', { timeout: 600_000 }, async () => {
    const dataDir = freshDir();
    const store = await openStore({ dataDir });
    try {
      await migrateToLatest(store.db);
      await sql`insert into companies (id, name, plan_name, user_licenses, developer_licenses) values ('acme', 'Acme', 'free', 5, 1)`.execute(store.db);
      for (const args of [['up'], ['reset', '--yes']]) {
        const run = migrate(dataDir, ...args);
        expect(run.status).toBe(1);
        expect(run.stderr.trim()).toBe(
          `DATA_DIR ${dataDir} is in use by a castellan server (PID ${process.pid}): embedded PostgreSQL serves one process at a time; stop it first, or point DATABASE_URL at a PostgreSQL server`,
        );
        expect(run.stdout).toBe('');
      }
      // Still whole, and still served.
      expect((await sql<{ id: string }>`select id from companies`.execute(store.db)).rows).toEqual([{ id: 'acme' }]);
      await expect(openStore({ dataDir })).rejects.toBeInstanceOf(DataDirLockedError);
    } finally {
      await store.close();
    }
    // Closed, the directory is free again, and its data intact.
    expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
    const again = await openStore({ dataDir });
    try {
      expect((await sql<{ id: string }>`select id from companies`.execute(again.db)).rows).toEqual([{ id: 'acme' }]);
    } finally {
      await again.close();
    }
  });

  it('a lock left by a process that is gone (a crash, a SIGKILL) is taken over', { timeout: 300_000 }, async () => {
    const dataDir = freshDir();
    const gone = spawn(process.execPath, ['-e', '']);
    const pid = gone.pid!;
    await new Promise((resolve) => gone.on('exit', resolve));
    writeFileSync(path.join(dataDir, LOCK_FILE), JSON.stringify({ pid, host: hostname(), what: 'a castellan server' }));
    const store = await openStore({ dataDir });
    try {
      expect(JSON.parse(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8'))).toEqual({ pid: process.pid, host: hostname(), what: 'a castellan server' });
    } finally {
      await store.close();
    }
  });

  it('a lock held on another host is refused rather than guessed at', async () => {
    const dataDir = freshDir();
    writeFileSync(path.join(dataDir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere.example', what: 'a castellan server' }));
    await expect(openStore({ dataDir })).rejects.toThrow(`DATA_DIR ${dataDir} is in use by a castellan server (PID 1 on elsewhere.example)`);
  });
});

describe('npm run migrate asks before it drops data', () => {
  it('reset and down without --yes, and not at a terminal, refuse and keep every row; with --yes they run', { timeout: 600_000 }, async () => {
    const dataDir = freshDir();
    expect(migrate(dataDir, 'up').status).toBe(0);
    const store = await openStore({ dataDir });
    await sql`insert into companies (id, name, plan_name, user_licenses, developer_licenses) values ('acme', 'Acme', 'free', 5, 1)`.execute(store.db);
    await store.close();

    for (const command of ['reset', 'down']) {
      const run = migrate(dataDir, command);
      expect(run.status).toBe(1);
      expect(run.stderr.trim()).toBe(`migrate ${command} drops data in ${dataDir}; run it again with --yes to confirm`);
    }
    const kept = await openStore({ dataDir });
    expect((await sql<{ id: string }>`select id from companies`.execute(kept.db)).rows).toEqual([{ id: 'acme' }]);
    await kept.close();

    const reset = migrate(dataDir, 'reset', '--yes');
    expect(reset.status).toBe(0);
    expect(reset.stdout).not.toBe('nothing to do\n');
  });

  it('--help prints the usage, and an unknown command or option says so in one line', () => {
    const dataDir = freshDir();
    expect(migrate(dataDir, '--help')).toMatchObject({ status: 0, stdout: expect.stringMatching(/^usage: npm run migrate -- \[up\|down\|reset\] \[--yes\]/) });
    expect(migrate(dataDir, 'sideways')).toMatchObject({ status: 2, stderr: expect.stringMatching(/^unknown command "sideways"\nusage: /) });
    expect(migrate(dataDir, 'up', '--force')).toMatchObject({ status: 2, stderr: expect.stringMatching(/^unknown option --force\nusage: /) });
  });
});
