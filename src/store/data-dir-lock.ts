import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * PGlite is one process's database: a second process opening the same directory (a server,
 * or `npm run migrate` beside a running one) corrupts it without a word. So the directory is
 * held by a lock file naming its holder, created exclusively; a second opener refuses with
 * the holder's PID. A lock left by a process that no longer runs (a crash, a SIGKILL) is
 * taken over, so a crash never needs a manual clean-up.
 */
export const LOCK_FILE = 'castellan.lock';

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by ${holder.what} (PID ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`}): ` +
        'embedded PostgreSQL serves one process at a time; stop it first, or point DATABASE_URL at a PostgreSQL server',
    );
    this.name = 'DataDirLockedError';
  }
}

export interface LockHolder {
  pid: number;
  host: string;
  /** What holds it, for the refusal: "a castellan server", "npm run migrate". */
  what: string;
}

export interface DataDirLock {
  release(): void;
}

function readHolder(path: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host, what: String(parsed.what ?? 'another process') };
  } catch {
    // Unreadable or half written: treated as a holder we cannot vouch for, below.
  }
  return null;
}

/** Whether the process is still running here: signal 0 delivers nothing and only checks. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockDataDir(dataDir: string, what: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), what };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolder(path);
      // Another host's process cannot be asked whether it runs: refuse rather than guess.
      if (holder && (holder.host !== me.host || (holder.pid !== process.pid && isRunning(holder.pid)))) throw new DataDirLockedError(dataDir, holder);
      if (holder?.pid === process.pid) throw new DataDirLockedError(dataDir, holder);
      if (!holder && attempt === 0) {
        // Being written this instant by another opener: look again before calling it stale.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
      try {
        unlinkSync(path); // left by a process that is gone
      } catch (unlinkError) {
        if ((unlinkError as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkError;
      }
      continue;
    }
    writeSync(fd, JSON.stringify(me));
    closeSync(fd);
    // Two openers that found the same stale lock may both have removed it: the later one's
    // file stands, and the other learns so here.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    const standing = readHolder(path);
    if (standing?.pid !== process.pid || standing.host !== me.host) throw new DataDirLockedError(dataDir, standing ?? { pid: 0, host: '?', what: 'another process' });
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      process.off('exit', release);
      // Only our own lock: a holder that took over a lock it found stale must keep it.
      if (readHolder(path)?.pid === process.pid) unlinkSync(path);
    };
    process.on('exit', release);
    return { release };
  }
  throw new Error(`could not take the lock ${path}`);
}
