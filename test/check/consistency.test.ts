import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp, TEST_REDIS_URL } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { adminClient } from '../support/admin.js';
import { seedCompany } from './seed.js';

const viewP1 = (user: string, minVersion?: string) => ({
  company: 'acme',
  principal: { id: user },
  action: 'view',
  resource: { type: 'Scenario', attributes: { projectId: 'p1' } },
  ...(minVersion ? { consistency: { minVersion } } : {}),
});

async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<{ value: T; elapsedMs: number }> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() - started > timeoutMs) return { value, elapsedMs: Date.now() - started };
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!servicesUp)('consistency across instances (D19)', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let redisProxy: TcpProxy;
  let pgProxy: TcpProxy;

  /** Revokes a user's grant on p1 through instance A's admin API, as an admin would; answers the write's version. */
  const revoke = async (user: string): Promise<string> => {
    const response = await adminClient(a.url, 'boss').delete(`/v1/companies/acme/projects/p1/members/users/${user}`);
    expect(response.status).toBe(200);
    return response.body.version as string;
  };

  beforeAll(async () => {
    env = await createTestEnvironment();
    a = await env.start();
    b = await env.start();
    redisProxy = await startTcpProxy('127.0.0.1', Number(new URL(TEST_REDIS_URL).port));
    pgProxy = await startTcpProxy('127.0.0.1', 5432);
    await seedCompany(a.app.store.db, a.app.policies, {
      id: 'acme',
      members: [{ id: 'boss', role: 'admin', owner: true }, ...['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'].map((id) => ({ id, role: 'collaborator' as const }))],
      projects: ['p1'],
      grants: ['u1', 'u2', 'u3', 'u4', 'u5'].map((user) => ({ project: 'p1', role: 'viewer', user })),
    });
  });
  afterAll(async () => {
    await env?.close();
    await redisProxy?.close();
    await pgProxy?.close();
  });

  it('a grant removed through instance A is denied by instance B on the next check that passes the write version', async () => {
    expect((await api(b.url, 'POST', '/v1/check', viewP1('u1'))).body.allowed).toBe(true);
    const version = await revoke('u1');
    const answer = await api(b.url, 'POST', '/v1/check', viewP1('u1', version));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ allowed: false, reason: 'no rule allows view Scenario', version });
  });

  it('without minVersion, instance B follows within the staleness bound', async () => {
    expect((await api(b.url, 'POST', '/v1/check', viewP1('u2'))).body.allowed).toBe(true);
    await revoke('u2');
    const { value } = await waitFor(() => api(b.url, 'POST', '/v1/check', viewP1('u2')), (r) => r.body.allowed === false, 5000 + 2000);
    expect(value.body.allowed).toBe(false);
  });

  it('a dropped invalidation is covered by the staleness bound, and Redis down keeps decisions correct', async () => {
    const c = await env.start({ REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`, CACHE_MAX_STALENESS_MS: '300' });
    expect((await api(c.url, 'POST', '/v1/check', viewP1('u3'))).body.allowed).toBe(true);
    await redisProxy.cut(); // c hears no more notices and cannot reach its L2
    const version = await revoke('u3');
    const { value } = await waitFor(() => api(c.url, 'POST', '/v1/check', viewP1('u3')), (r) => r.body.allowed === false, 3000);
    expect(value.status).toBe(200);
    expect(value.body).toEqual({ allowed: false, reason: 'no rule allows view Scenario', version });
    // With Redis unreachable, cold principals are answered from PostgreSQL.
    expect((await api(c.url, 'POST', '/v1/check', viewP1('u4'))).body).toMatchObject({ allowed: true, version });
    expect((await api(c.url, 'POST', '/v1/check', viewP1('u6'))).body).toMatchObject({ allowed: false, version });
    const ready = await api(c.url, 'GET', '/readyz');
    expect(ready.status).toBe(503);

    // When Redis comes back, the subscriber reconnects and the in-process cache is cleared.
    await redisProxy.restore();
    const { value: size } = await waitFor(async () => c.app.abilities.size, (n) => n === 0, 5000);
    expect(size).toBe(0);
    expect((await api(c.url, 'POST', '/v1/check', viewP1('u4'))).body.allowed).toBe(true);
  });

  it('PostgreSQL unreachable: a cold principal gets 503 unavailable, never an allow; a cached one is still answered', async () => {
    const dbName = new URL(env.database.url).pathname;
    const d = await env.start({ DATABASE_URL: `postgres://postgres@127.0.0.1:${pgProxy.port}${dbName}`, MIGRATE_ON_START: 'false', CACHE_MAX_STALENESS_MS: '100' });
    expect((await api(d.url, 'POST', '/v1/check', viewP1('u5'))).body.allowed).toBe(true);
    // u4's rules must sit in Redis (L2), compiled by an instance that reaches Redis directly.
    expect((await api(b.url, 'POST', '/v1/check', viewP1('u4'))).body.allowed).toBe(true);
    const redis = new Redis(TEST_REDIS_URL);
    const { value: keys } = await waitFor(() => redis.keys(`${env.env.REDIS_KEY_PREFIX}*rules:acme u4`), (found) => found.length === 1, 3000);
    redis.disconnect();
    expect(keys).toHaveLength(1);
    await pgProxy.cut();
    const cold = await api(d.url, 'POST', '/v1/check', viewP1('u7'));
    expect(cold.status).toBe(503);
    expect(cold.body.error.code).toBe('unavailable');
    const coldBatch = await api(d.url, 'POST', '/v1/check/batch', { company: 'acme', principal: { id: 'u7' }, checks: [{ action: 'view', resource: { type: 'Project', id: 'p1' } }] });
    expect(coldBatch.status).toBe(503);
    // u4 is cold in d's L1 but its rules are in L2: answered, degraded.
    expect((await api(d.url, 'POST', '/v1/check', viewP1('u4'))).body).toMatchObject({ allowed: true });
    await new Promise((r) => setTimeout(r, 150)); // past the staleness bound: re-validation fails, the cached entry answers
    const warm = await api(d.url, 'POST', '/v1/check', viewP1('u5'));
    expect(warm).toMatchObject({ status: 200, body: { allowed: true } });
    // A newer version than the cached one cannot be proven without the store.
    const tooNew = await api(d.url, 'POST', '/v1/check', viewP1('u5', '999999'));
    expect(tooNew.status).toBe(503);
    expect(tooNew.body.error.code).toBe('unavailable');
    await pgProxy.restore();
  });

  it('concurrent misses for one principal share one load (single flight)', async () => {
    const e = await env.start();
    const before = await metricValue(e, 'castellan_compile_duration_seconds_count');
    const answers = await Promise.all(Array.from({ length: 20 }, () => api(e.url, 'POST', '/v1/check', viewP1('u6'))));
    expect(answers.every((r) => r.status === 200 && r.body.allowed === false)).toBe(true);
    expect((await metricValue(e, 'castellan_compile_duration_seconds_count')) - before).toBe(1);
  });
});

async function metricValue(instance: TestApp, name: string): Promise<number> {
  const text = await instance.app.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : 0;
}
