import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** test/fuzz and dist/fuzz both sit two folders below the repository root. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const PG_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const FUZZ_JWT_SECRET = `fuzz-secret-${'0123456789abcdef'.repeat(3)}`;
export const FUZZ_CHECK_TOKEN = `fuzz-check-token-${randomBytes(8).toString('hex')}`;
export const FUZZ_OPERATOR_TOKEN = `fuzz-operator-token-${randomBytes(8).toString('hex')}`;

/** `node dist/main.js` on PostgreSQL and Redis, as production runs it: a crash is an exit, not a test worker's exception. */
export interface FuzzServer {
  url: string;
  port: number;
  /** Lines the server logged at `error` or `fatal`: each is an unexpected failure (a 500's stack). */
  errorLines(): string[];
  /** Null while running; the exit code or signal once it has exited. */
  exited(): string | null;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export function healthz(port: number, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

export async function startFuzzServer(extraEnv: Record<string, string> = {}, nodeArgs: readonly string[] = []): Promise<FuzzServer> {
  const database = `castellan_fuzz_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database ${database}`);
  const databaseUrl = new URL(PG_ADMIN_URL);
  databaseUrl.pathname = `/${database}`;
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, 'dist/main.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      // Access lines are info: warn keeps the output to what matters here, errors above all.
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl.toString(),
      REDIS_URL,
      REDIS_KEY_PREFIX: `fuzz_${randomBytes(4).toString('hex')}:`,
      AUTH_JWT_SECRET: FUZZ_JWT_SECRET,
      CHECK_TOKEN: FUZZ_CHECK_TOKEN,
      OPERATOR_TOKEN: FUZZ_OPERATOR_TOKEN,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const errors: string[] = [];
  let exit: string | null = null;
  let pending = '';
  const onOutput = (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (/"level":"(error|fatal)"/.test(line) || (line && !line.startsWith('{'))) errors.push(line);
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = signal ?? String(code);
      resolve();
    }),
  );

  const dropDatabase = () => adminQuery(`drop database if exists ${database} with (force)`).catch(() => {});
  const deadline = Date.now() + 30_000;
  while ((await healthz(port, 500)) !== 200) {
    if (exit !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await dropDatabase();
      throw new Error(`dist/main.js did not start (exit ${exit ?? 'none'}); run npm run build first:\n${errors.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    errorLines: () => [...errors],
    exited: () => exit,
    async stop() {
      if (exit === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exitedPromise;
        clearTimeout(timer);
      }
      await dropDatabase();
    },
  };
}
