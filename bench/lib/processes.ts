import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT } from './castellan.js';

export const DATA_DIR = path.join(ROOT, 'bench/.data');
const LOG_DIR = path.join(DATA_DIR, 'logs');

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  readonly logFile: string;
  /** Stops the process by its PID (SIGTERM, then SIGKILL after a grace period). */
  stop(): Promise<void>;
}

const running = new Set<Proc>();

/** Stops whatever the bench started and is still running; used on errors and Ctrl-C. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function waitUntilHealthy(proc: Proc, child: ChildProcess, healthPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${proc.name} exited with code ${child.exitCode} before it was ready; see ${proc.logFile}`);
    try {
      const response = await fetch(`${proc.url}${healthPath}`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${proc.name} was not healthy after ${timeoutMs} ms; see ${proc.logFile}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  healthPath: string;
  timeoutMs?: number;
}

/** The core every server is started on (under `taskset`), or null to leave it to the scheduler. */
let serverCpu: number | null = null;
export function pinServersTo(cpu: number | null): void {
  serverCpu = cpu;
}

/** Starts a server as a child process with its output in bench/.data/logs, and waits until its health path answers 200. */
export async function startProcess(options: StartOptions): Promise<Proc> {
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = path.join(LOG_DIR, `${options.name}.log`);
  const log = createWriteStream(logFile);
  const [command, args] = serverCpu === null ? [options.command, options.args] : ['taskset', ['-c', String(serverCpu), options.command, ...options.args]];
  const child = spawn(command, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  if (child.pid === undefined) throw new Error(`could not start ${options.name} (${options.command})`);
  const pid = child.pid;
  const proc: Proc = {
    name: options.name,
    pid,
    url: `http://127.0.0.1:${options.port}`,
    logFile,
    async stop() {
      running.delete(proc);
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, 'SIGTERM');
      const killer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
      }, 5000);
      await exited(child);
      clearTimeout(killer);
    },
  };
  running.add(proc);
  try {
    await waitUntilHealthy(proc, child, options.healthPath, options.timeoutMs ?? 30_000);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return proc;
}

export interface CastellanEnv {
  databaseUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
  jwtSecret: string;
  cacheMaxEntries: number;
}

/** One Castellan instance: `node dist/main.js`, configured like a replica in production (PostgreSQL and Redis). */
export interface CastellanStart {
  nodeArgs?: string[];
  extraEnv?: Record<string, string>;
  /** Another build's main.js (the --baseline comparison); default dist/main.js. */
  entry?: string;
}

export async function startCastellan(name: string, env: CastellanEnv, start: CastellanStart = {}): Promise<Proc> {
  const port = await freePort();
  return startProcess({
    name,
    command: process.execPath,
    args: [...(start.nodeArgs ?? []), start.entry ?? 'dist/main.js'],
    env: {
      PORT: String(port),
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      REDIS_KEY_PREFIX: env.redisKeyPrefix,
      AUTH_JWT_SECRET: env.jwtSecret,
      CACHE_MAX_ENTRIES: String(env.cacheMaxEntries),
      LOG_LEVEL: 'warn',
      // The schema is already migrated by the dataset generator.
      MIGRATE_ON_START: 'false',
      POLICIES_DIR: path.join(ROOT, 'policies'),
      ...start.extraEnv,
    },
    port,
    healthPath: '/healthz',
  });
}

/** The bare node:http server of the limit scenario (dist/bench/limit-server.js), spinning `workMicros` of CPU per request. */
export async function startLimitServer(workMicros = 0): Promise<Proc> {
  const port = await freePort();
  return startProcess({
    name: workMicros ? `limit+${workMicros}us` : 'limit',
    command: process.execPath,
    args: [path.join(ROOT, 'dist/bench/limit-server.js')],
    env: { PORT: String(port), WORK_US: String(workMicros) },
    port,
    healthPath: '/healthz',
  });
}
