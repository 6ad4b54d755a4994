import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate, ROOT } from '../lib/castellan.js';
import { freePort, startProcess, type Proc } from '../lib/processes.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** Children still running: killed if the harness itself dies, so no instance or redis-server outlives it. */
const children = new Set<number>();
process.on('exit', () => {
  for (const pid of children) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
});

export const JWT_SECRET = 'chaos-harness-secret-that-is-at-least-32-characters';
export const PROJECT = 'p1';
export const ROLE = 'viewer';

/** The principals of each chaos company: whose rights the writer flips, and whose never change. */
export interface CompanyCast {
  id: string;
  admin: string;
  changing: string[];
  alwaysAllowed: string[];
  neverAllowed: string[];
}

export interface ClusterOptions {
  instances: number;
  companies: number;
  changingPerCompany: number;
  stablePerCompany: number;
  stalenessMs: number;
  degradedMs: number;
  pgAdminUrl: string;
  /** Extra environment for every instance. */
  env?: Record<string, string>;
  log: (line: string) => void;
}

/** A redis-server of the harness's own on a free loopback port, so it can be killed and paused. */
export interface PrivateRedis {
  port: number;
  pid: number | undefined;
  kill(): void;
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

async function waitForRedis(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 500, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  let paused = false;
  const start = async () => {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
    child = started;
    started.on('error', () => {});
    if (started.pid) children.add(started.pid);
    started.once('exit', () => started.pid && children.delete(started.pid));
    await waitForRedis(port, 10_000);
  };
  const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));
  await start();
  return {
    port,
    get pid() {
      return child?.pid;
    },
    kill() {
      if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
      paused = false;
    },
    async restart() {
      if (child) await exited(child);
      await start();
    },
    pause() {
      if (child?.pid && child.exitCode === null) {
        process.kill(child.pid, 'SIGSTOP');
        paused = true;
      }
    },
    resume() {
      if (child?.pid && paused) process.kill(child.pid, 'SIGCONT');
      paused = false;
    },
    async stop() {
      if (!child) return;
      if (paused) process.kill(child.pid!, 'SIGCONT');
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
      await exited(child);
    },
  };
}

/** One Castellan instance: dist/main.js as a child process, reaching PostgreSQL and Redis through proxies of its own. */
export interface Instance {
  readonly index: number;
  readonly url: string;
  readonly pg: TcpProxy;
  readonly redis: TcpProxy;
  readonly running: boolean;
  /** SIGKILL: no drain, no goodbye to PostgreSQL or Redis. */
  kill(): void;
  /** Starts it again on the same port; retries until it is healthy (it cannot start without PostgreSQL). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

function configuredInstance(index: number, firstPort: number, pgProxy: TcpProxy, redisProxy: TcpProxy, env: Record<string, string>, log: (line: string) => void): Instance {
  let proc: Proc | null = null;
  let starting: Promise<void> | null = null;
  let stopped = false;
  let port = firstPort;
  let starts = 0;
  const launch = () =>
    startProcess({ name: `chaos-${index}-${++starts}`, command: process.execPath, args: [path.join(ROOT, 'dist/main.js')], env: { ...env, PORT: String(port) }, port, healthPath: '/healthz', timeoutMs: 20_000 });
  return {
    index,
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    pg: pgProxy,
    redis: redisProxy,
    get running() {
      return proc !== null;
    },
    kill() {
      if (proc) {
        children.delete(proc.pid);
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        void proc.stop();
        proc = null;
      }
    },
    start() {
      stopped = false;
      starting ??= (async () => {
        for (let attempt = 1; !stopped; attempt++) {
          try {
            proc = await launch();
            children.add(proc.pid);
            return;
          } catch (error) {
            if (attempt === 1 || attempt % 10 === 0) log(`instance ${index} did not start (attempt ${attempt}): ${(error as Error).message.split('\n')[0]}`);
            // A restart takes its old port again, as a restarted pod keeps its address; but another
            // process on this shared machine may have taken it meanwhile.
            port = await freePort();
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      })().finally(() => (starting = null));
      return starting;
    },
    async stop() {
      stopped = true;
      await starting;
      if (proc) children.delete(proc.pid);
      await proc?.stop();
      proc = null;
    },
  };
}

export interface Cluster {
  instances: Instance[];
  redis: PrivateRedis;
  companies: CompanyCast[];
  /** The harness's own connection to the database, around every proxy. */
  db: pg.Pool;
  databaseUrl: string;
  seedVersion: bigint;
  /** Users allowed at the seed version, per company. */
  seedGranted: Map<string, Set<string>>;
  close(): Promise<void>;
}

async function seed(db: pg.Pool, companies: CompanyCast[]): Promise<Map<string, Set<string>>> {
  const read = (file: string) => JSON.parse(readFileSync(path.join(ROOT, 'policies', file), 'utf8')) as unknown;
  const companyRoles = read('company-roles.json') as Record<string, unknown>;
  const projectRoles = read('project-roles.json') as Array<{ key: string; name: string; permissions: unknown }>;
  const granted = new Map<string, Set<string>>();
  const client = await db.connect();
  try {
    await client.query('begin');
    for (const company of companies) {
      const users = [company.admin, ...company.changing, ...company.alwaysAllowed, ...company.neverAllowed];
      await client.query(`insert into users (id, kind, email) select u, 'platform', u || '@chaos.test' from unnest($1::text[]) u on conflict do nothing`, [users]);
      await client.query(`insert into companies (id, name, plan_name, user_licenses, developer_licenses) values ($1, $1, 'enterprise', 1000, 1000)`, [company.id]);
      await client.query(`insert into policy_versions (company_id, version) values ($1, 1)`, [company.id]);
      for (const role of ['manager', 'editor', 'collaborator']) {
        await client.query(`insert into company_role_permissions (company_id, role, permissions) values ($1, $2, $3)`, [company.id, role, JSON.stringify(companyRoles[role])]);
      }
      for (const role of projectRoles) {
        await client.query(`insert into project_roles (company_id, key, name, permissions) values ($1, $2, $3, $4)`, [company.id, role.key, role.name, JSON.stringify(role.permissions)]);
      }
      await client.query(
        `insert into memberships (company_id, user_id, status, role, owner, application_access, developer_access) select $1, u, 'active', case when u = $2 then 'admin' else 'collaborator' end, u = $2, false, false from unnest($3::text[]) u`,
        [company.id, company.admin, users],
      );
      await client.query(`insert into projects (company_id, id, name) values ($1, $2, $2)`, [company.id, PROJECT]);
      // Half of the changing principals start with the grant.
      const start = new Set([...company.alwaysAllowed, ...company.changing.filter((_, i) => i % 2 === 0)]);
      await client.query(`insert into project_grants (company_id, project_id, role_key, user_id) select $1, $2, $3, u from unnest($4::text[]) u`, [company.id, PROJECT, ROLE, [...start]]);
      granted.set(company.id, start);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
  return granted;
}

export interface ChaosDatabase {
  name: string;
  url: string;
  /** The harness's own connection, around every proxy. */
  db: pg.Pool;
  companies: CompanyCast[];
  seedVersion: bigint;
  /** Users allowed at the seed version, per company. */
  seedGranted: Map<string, Set<string>>;
  drop(): Promise<void>;
}

/** A database of its own: created, migrated with the product's migrations, seeded with the chaos companies. */
export async function createChaosDatabase(options: Pick<ClusterOptions, 'pgAdminUrl' | 'companies' | 'changingPerCompany' | 'stablePerCompany'>): Promise<ChaosDatabase> {
  const name = `castellan_chaos_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
  const admin = new pg.Client({ connectionString: options.pgAdminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const dbUrl = new URL(options.pgAdminUrl);
  dbUrl.pathname = `/${name}`;
  const url = dbUrl.toString();
  let db: pg.Pool | null = null;
  const drop = async () => {
    await db?.end();
    db = null;
    const client = new pg.Client({ connectionString: options.pgAdminUrl });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  };
  try {
    await migrate(url);
    db = new pg.Pool({ connectionString: url, max: 4 });
    db.on('error', () => {});
    const companies: CompanyCast[] = Array.from({ length: options.companies }, (_, c) => ({
      id: `chaos-${c}`,
      admin: `boss-${c}`,
      changing: Array.from({ length: options.changingPerCompany }, (_, i) => `c${c}-changing-${i}`),
      alwaysAllowed: Array.from({ length: options.stablePerCompany }, (_, i) => `c${c}-allowed-${i}`),
      neverAllowed: Array.from({ length: options.stablePerCompany }, (_, i) => `c${c}-denied-${i}`),
    }));
    const seedGranted = await seed(db, companies);
    return { name, url, db, companies, seedVersion: 1n, seedGranted, drop };
  } catch (error) {
    await drop();
    throw error;
  }
}

/**
 * A database of its own (created, migrated, seeded), a private redis-server, and the
 * instances, each behind its own PostgreSQL and Redis proxies.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const database = await createChaosDatabase(options);
  const { name, url: databaseUrl } = database;
  const cleanups: Array<() => Promise<unknown>> = [() => database.drop()];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => options.log(`cleanup: ${error.message}`));
  };
  try {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const pgPort = Number(new URL(options.pgAdminUrl).port || 5432);
    const pgHost = new URL(options.pgAdminUrl).hostname;
    const instances: Instance[] = [];
    for (let i = 0; i < options.instances; i++) {
      const pgProxy = await startTcpProxy(pgHost, pgPort);
      const redisProxy = await startTcpProxy('127.0.0.1', redis.port, { resp: true });
      cleanups.push(() => pgProxy.close(), () => redisProxy.close());
      const instanceDb = new URL(databaseUrl);
      instanceDb.port = String(pgProxy.port);
      instanceDb.hostname = '127.0.0.1';
      const env = {
        DATABASE_URL: instanceDb.toString(),
        REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
        REDIS_KEY_PREFIX: `${name}:`,
        AUTH_JWT_SECRET: JWT_SECRET,
        MIGRATE_ON_START: 'false',
        LOG_LEVEL: 'warn',
        POLICIES_DIR: path.join(ROOT, 'policies'),
        CACHE_MAX_STALENESS_MS: String(options.stalenessMs),
        CACHE_MAX_DEGRADED_MS: String(options.degradedMs),
        ...options.env,
      };
      instances.push(configuredInstance(i, await freePort(), pgProxy, redisProxy, env, options.log));
    }
    await Promise.all(instances.map((instance) => instance.start()));
    // Stopped first at close: before the proxies and Redis they reach.
    cleanups.push(() => Promise.all(instances.map((instance) => instance.stop())));
    return { instances, redis, companies: database.companies, db: database.db, databaseUrl, seedVersion: database.seedVersion, seedGranted: database.seedGranted, close };
  } catch (error) {
    await close();
    throw error;
  }
}
