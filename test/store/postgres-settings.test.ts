import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { adminClient } from '../support/admin.js';
import { servicesUp, TEST_PG_ADMIN_URL, uniqueName } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { seedCompany } from '../check/seed.js';
import { DENIED, viewP1 } from '../check/redis-modes.js';

const USERS = Array.from({ length: 30 }, (_, i) => `u${i + 1}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function replicaLoads(app: TestApp): Promise<Record<string, number>> {
  const metric = await app.app.metrics.registry.getSingleMetric('castellan_replica_loads_total')!.get();
  return Object.fromEntries(metric.values.map((value) => [String(value.labels.result), value.value]));
}

describe.skipIf(!servicesUp)('PostgreSQL settings: pool size, statement timeout, read replica', () => {
  let env: TestEnvironment;
  let a: TestApp;
  /** A connection of the test's own to the primary, to hold locks and copy tables. */
  let sql: pg.Client;
  const replicaSchema = uniqueName('replica');
  const replicaRole = uniqueName('castellan_replica');
  let replicaUrl: string;
  let tables: string[];
  let pgProxy: TcpProxy;

  /** The stand-in replica catches up: its copy of every table becomes the primary's. */
  const catchUp = async () => {
    await sql.query('begin isolation level repeatable read');
    for (const table of tables) {
      await sql.query(`truncate ${replicaSchema}.${table}`);
      await sql.query(`insert into ${replicaSchema}.${table} select * from public.${table}`);
    }
    await sql.query('commit');
  };

  /** Holds an exclusive lock on memberships (every principal load reads it) until the returned function is called. */
  const lockMemberships = async () => {
    // A connection of its own: a transaction sees pg_stat_activity as at its first read of it.
    const holder = new pg.Client({ connectionString: env.database.url });
    await holder.connect();
    await holder.query('begin');
    await holder.query('lock table public.memberships in access exclusive mode');
    return async () => {
      await holder.query('commit');
      await holder.end();
    };
  };

  beforeAll(async () => {
    env = await createTestEnvironment({ REDIS_URL: '' });
    a = await env.start();
    await seedCompany(a.app.store.db, a.app.policies, {
      id: 'acme',
      members: [{ id: 'boss', role: 'admin', owner: true }, ...USERS.map((id) => ({ id, role: 'collaborator' as const }))],
      projects: ['p1'],
      grants: USERS.map((user) => ({ project: 'p1', role: 'viewer', user })),
    });
    sql = new pg.Client({ connectionString: env.database.url });
    sql.on('error', () => {});
    await sql.connect();
    // A replica stands in as a copy of the tables in a schema of its own, read by a role that
    // can only read them (its search_path points there): it lags until the test copies again.
    tables = (await sql.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`)).rows.map((row) => row.table_name);
    await sql.query(`create schema ${replicaSchema}`);
    for (const table of tables) await sql.query(`create table ${replicaSchema}.${table} (like public.${table} including defaults)`);
    await sql.query(`create role ${replicaRole} login`);
    await sql.query(`grant usage on schema ${replicaSchema} to ${replicaRole}`);
    await sql.query(`grant select on all tables in schema ${replicaSchema} to ${replicaRole}`);
    await sql.query(`alter role ${replicaRole} set search_path = ${replicaSchema}`);
    await catchUp();
    const url = new URL(env.database.url);
    url.username = replicaRole;
    replicaUrl = url.toString();
    pgProxy = await startTcpProxy('127.0.0.1', 5432);
  }, 60_000);
  afterAll(async () => {
    await sql?.end();
    await env?.close();
    await pgProxy?.close();
    // Roles belong to the server, not to the dropped database.
    const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`drop role if exists ${replicaRole}`).finally(() => admin.end());
  });

  it('DATABASE_POOL_SIZE: an instance opens no more connections than that, and uses them all under load', async () => {
    for (const size of [2, 4]) {
      const started = new Date();
      const instance = await env.start({ DATABASE_POOL_SIZE: String(size), MIGRATE_ON_START: 'false' });
      // Idle connections stay pooled for seconds: after a burst of cold loads the pool is as full as it got.
      const own = async () =>
        Number((await sql.query(`select count(*) from pg_stat_activity where datname = $1 and application_name = 'castellan' and backend_start >= $2`, [env.database.name, started])).rows[0].count);
      // Every load of the burst waits on the lock holding its connection, so the pool grows as
      // far as it may, whatever the speed of the machine; then the lock goes and all are answered.
      const release = await lockMemberships();
      let most = 0;
      const burst = Promise.all(USERS.map((user) => api(instance.url, 'POST', '/v1/check', viewP1(user))));
      try {
        for (const deadline = Date.now() + 10_000; most < size && Date.now() < deadline; await sleep(5)) most = Math.max(most, await own());
        await sleep(200); // and no further
        most = Math.max(most, await own());
      } finally {
        await release();
      }
      for (const reply of await burst) expect(reply).toMatchObject({ status: 200, body: { allowed: true } });
      most = Math.max(most, await own());
      expect(most).toBe(size);
      await instance.close();
    }
  });

  it('DATABASE_STATEMENT_TIMEOUT_MS: a load the server cancels is 503, never an answer; a write cancelled changes nothing', async () => {
    const instance = await env.start({ DATABASE_STATEMENT_TIMEOUT_MS: '300', MIGRATE_ON_START: 'false' });
    const release = await lockMemberships();
    try {
      const check = await api(instance.url, 'POST', '/v1/check', viewP1('u30'));
      expect(check.status).toBe(503);
      expect(check.body.error).toMatchObject({ code: 'unavailable', details: { dependency: 'postgres' } });
      const write = await adminClient(instance.url, 'boss').delete('/v1/companies/acme/projects/p1/members/users/u29');
      expect(write.status).toBe(503);
      expect(write.body).toEqual({ error: { code: 'unavailable', message: 'the policy store did not answer in time', details: { dependency: 'postgres' } } });
    } finally {
      await release();
    }
    expect((await api(instance.url, 'POST', '/v1/check', viewP1('u30'))).body).toMatchObject({ allowed: true });
    expect((await api(instance.url, 'POST', '/v1/check', viewP1('u29'))).body).toMatchObject({ allowed: true });
    await instance.close();
  });

  it('DATABASE_READ_URL: loads go to the replica while it has the version the primary gave', async () => {
    const r = await env.start({ DATABASE_READ_URL: replicaUrl, MIGRATE_ON_START: 'false' });
    const before = await replicaLoads(r);
    expect((await api(r.url, 'POST', '/v1/check', viewP1('u1'))).body).toMatchObject({ allowed: true });
    expect((await api(r.url, 'POST', '/v1/check', viewP1('u2'))).body).toMatchObject({ allowed: true });
    const after = await replicaLoads(r);
    expect(after.replica! - before.replica!).toBe(2);
    expect(after.lagging! - before.lagging!).toBe(0);
    // The replica's role can only read: the connections are read-only besides.
    const replica = new pg.Client({ connectionString: replicaUrl });
    await replica.connect();
    await expect(replica.query('delete from project_grants')).rejects.toThrow(/permission denied/);
    await replica.end();
    await r.close();
  });

  it('a lagging replica never answers older data: minVersion, and the version read from the primary, send the load to the primary', async () => {
    const r = await env.start({ DATABASE_READ_URL: replicaUrl, MIGRATE_ON_START: 'false' });
    expect((await api(r.url, 'POST', '/v1/check', viewP1('u3'))).body).toMatchObject({ allowed: true });
    // Revoked on the primary through another instance; the replica still has the grant.
    const revoked = await adminClient(a.url, 'boss').delete('/v1/companies/acme/projects/p1/members/users/u3');
    expect(revoked.status).toBe(200);
    const version = revoked.body.version as string;
    expect((await sql.query(`select count(*) from ${replicaSchema}.project_grants where user_id = 'u3'`)).rows[0].count).toBe('1');
    const before = await replicaLoads(r);
    expect((await api(r.url, 'POST', '/v1/check', viewP1('u3', version))).body).toEqual({ ...DENIED, version });
    // A principal never loaded, without minVersion: the primary's version decides as well.
    const fresh = await env.start({ DATABASE_READ_URL: replicaUrl, MIGRATE_ON_START: 'false' });
    await adminClient(a.url, 'boss').delete('/v1/companies/acme/projects/p1/members/users/u4');
    const latest = (await sql.query(`select version from public.policy_versions where company_id = 'acme'`)).rows[0].version as string;
    expect((await api(fresh.url, 'POST', '/v1/check', viewP1('u4'))).body).toEqual({ ...DENIED, version: latest });
    expect((await api(fresh.url, 'POST', '/v1/check', viewP1('u5'))).body).toMatchObject({ allowed: true, version: latest });
    expect((await replicaLoads(r)).lagging! - before.lagging!).toBe(1);
    expect((await replicaLoads(fresh)).lagging).toBe(2);
    expect((await replicaLoads(fresh)).replica).toBe(0);

    // Caught up, the replica answers again, with the revokes.
    await catchUp();
    expect((await api(fresh.url, 'POST', '/v1/check', viewP1('u6'))).body).toMatchObject({ allowed: true, version: latest });
    expect((await api(fresh.url, 'POST', '/v1/check', viewP1('u3'))).body).toEqual({ ...DENIED, version: latest });
    expect((await replicaLoads(fresh)).replica).toBe(2);
    await r.close();
    await fresh.close();
  });

  it('a replica that cannot be reached leaves the primary to answer; a primary that cannot be reached is 503 even with the replica up', async () => {
    const unreachable = await env.start({ DATABASE_READ_URL: 'postgres://postgres@127.0.0.1:1/none', MIGRATE_ON_START: 'false' });
    expect((await api(unreachable.url, 'POST', '/v1/check', viewP1('u7'))).body).toMatchObject({ allowed: true });
    expect((await replicaLoads(unreachable)).failed).toBe(1);
    await unreachable.close();

    const primaryUrl = new URL(env.database.url);
    primaryUrl.port = String(pgProxy.port);
    const r = await env.start({ DATABASE_URL: primaryUrl.toString(), DATABASE_READ_URL: replicaUrl, MIGRATE_ON_START: 'false' });
    expect((await api(r.url, 'POST', '/v1/check', viewP1('u8'))).body).toMatchObject({ allowed: true });
    await pgProxy.cut();
    try {
      const cold = await api(r.url, 'POST', '/v1/check', viewP1('u9'));
      expect(cold.status).toBe(503);
      expect(cold.body.error).toMatchObject({ code: 'unavailable', details: { dependency: 'postgres' } });
    } finally {
      await pgProxy.restore();
    }
    await r.close();
  });
});
