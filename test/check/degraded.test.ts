import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { adminClient } from '../support/admin.js';
import { servicesUp, TEST_REDIS_URL } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { scrape } from '../ops/prometheus.js';
import { seedCompany } from './seed.js';

/**
 * PostgreSQL away from one instance while the others keep writing (Zanzibar's "new enemy"):
 * the instance answers from its cache only while it may, and fails closed after.
 */
const viewP1 = (user: string) => ({ company: 'acme', principal: { id: user }, action: 'view', resource: { type: 'Scenario', attributes: { projectId: 'p1' } } });
const DENIED = { allowed: false, reason: 'no rule allows view Scenario' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(probe: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

describe.skipIf(!servicesUp)('degraded mode: PostgreSQL unreachable for one instance', () => {
  let env: TestEnvironment;
  let writer: TestApp;
  const proxies: TcpProxy[] = [];
  let dbPath: string;
  let redisPort: number;

  /** An instance reaching PostgreSQL (and Redis, when asked) through proxies of its own. */
  async function isolated(extra: Record<string, string>, redisThroughProxy: boolean) {
    const pg = await startTcpProxy('127.0.0.1', 5432);
    proxies.push(pg);
    let redis: TcpProxy | undefined;
    if (redisThroughProxy) {
      redis = await startTcpProxy('127.0.0.1', redisPort, { resp: true });
      proxies.push(redis);
    }
    const app = await env.start({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pg.port}${dbPath}`,
      MIGRATE_ON_START: 'false',
      ...(redis ? { REDIS_URL: `redis://127.0.0.1:${redis.port}` } : {}),
      ...extra,
    });
    return { app, pg, redis };
  }

  const revoke = async (user: string): Promise<string> => {
    const response = await adminClient(writer.url, 'boss').delete(`/v1/companies/acme/projects/p1/members/users/${user}`);
    expect(response.status).toBe(200);
    return response.body.version as string;
  };

  /** Waits until L2 holds the users' rules (the writer instance puts them there in the background). */
  async function untilInL2(users: string[]): Promise<void> {
    const direct = new Redis(TEST_REDIS_URL);
    try {
      const inL2 = async (user: string) => (await direct.keys(`${env.env.REDIS_KEY_PREFIX}*rules:acme ${user}`)).length === 1;
      await until(async () => (await Promise.all(users.map(inL2))).every(Boolean), 3000);
    } finally {
      direct.disconnect();
    }
  }

  /**
   * With PostgreSQL away from `d`: `within` is answered from cache (allowed) while the company's
   * version was confirmed less than `boundMs` ago, and `past` is refused once the bound is over.
   */
  async function answeredWithinBoundThenRefused(d: TestApp, confirmed: number, boundMs: number, within: string, past: string): Promise<void> {
    const degraded = await api(d.url, 'POST', '/v1/check', viewP1(within));
    expect(Date.now() - confirmed).toBeLessThan(boundMs); // else this machine is too slow for the test to mean anything
    expect(degraded.status).toBe(200);
    expect(degraded.body.allowed).toBe(true);

    await sleep(boundMs - (Date.now() - confirmed) + 100);
    const late = await api(d.url, 'POST', '/v1/check', viewP1(past));
    expect(late.status).toBe(503);
    expect(late.body.error.code).toBe('unavailable');
  }

  beforeAll(async () => {
    env = await createTestEnvironment();
    writer = await env.start();
    dbPath = new URL(env.database.url).pathname;
    redisPort = Number(new URL(TEST_REDIS_URL).port);
    const users = Array.from({ length: 12 }, (_, i) => `u${i + 1}`);
    await seedCompany(writer.app.store.db, writer.app.policies, {
      id: 'acme',
      members: [{ id: 'boss', role: 'admin', owner: true }, ...users.map((id) => ({ id, role: 'collaborator' as const }))],
      projects: ['p1'],
      grants: users.map((user) => ({ project: 'p1', role: 'viewer', user })),
    });
  });
  afterAll(async () => {
    await env?.close();
    for (const proxy of proxies) await proxy.close();
  });

  it('an instance that hears of a newer version it cannot load answers 503 for the company, never the older allow', async () => {
    // A long staleness bound: only the version notice can tell the instance its cache is old.
    const { app: d, pg } = await isolated({ CACHE_MAX_STALENESS_MS: '60000', CACHE_MAX_DEGRADED_MS: '60000' }, false);
    for (const user of ['u1', 'u2']) expect((await api(d.url, 'POST', '/v1/check', viewP1(user))).body).toMatchObject({ allowed: true });
    await pg.cut();
    const version = await revoke('u1');
    await until(() => d.app.bus.knownVersion('acme') === BigInt(version), 5000);

    const revoked = await api(d.url, 'POST', '/v1/check', viewP1('u1'));
    expect(revoked.status).toBe(503);
    expect(revoked.body.error.code).toBe('unavailable');
    // u2's rights did not change, but nothing cached is at the company's version: 503 too.
    expect((await api(d.url, 'POST', '/v1/check', viewP1('u2'))).status).toBe(503);
    const batch = await api(d.url, 'POST', '/v1/check/batch', { company: 'acme', principal: { id: 'u1' }, checks: [{ action: 'view', resource: { type: 'Scenario', attributes: { projectId: 'p1' } } }] });
    expect(batch.status).toBe(503);
    expect((await api(d.url, 'GET', '/v1/companies/acme/principals/u1/rules')).status).toBe(503);

    await pg.restore();
    await until(async () => (await api(d.url, 'POST', '/v1/check', viewP1('u1'))).status === 200, 10_000);
    expect((await api(d.url, 'POST', '/v1/check', viewP1('u1'))).body).toEqual({ ...DENIED, version });
  });

  it('with neither PostgreSQL nor Redis, cached answers last CACHE_MAX_DEGRADED_MS after their last confirmation, then 503', async () => {
    const { app: d, pg, redis } = await isolated({ CACHE_MAX_STALENESS_MS: '100', CACHE_MAX_DEGRADED_MS: '2500' }, true);
    expect((await api(d.url, 'POST', '/v1/check', viewP1('u3'))).body).toMatchObject({ allowed: true });
    const confirmed = Date.now();
    await Promise.all([pg.cut(), redis!.cut()]);
    // The other instances may be writing meanwhile: this one cannot know, so after the bound it refuses.
    await revoke('u3');

    await sleep(300); // past the staleness bound: the entry is re-validated, which fails
    await answeredWithinBoundThenRefused(d, confirmed, 2500, 'u3', 'u3');
    expect((await api(d.url, 'POST', '/v1/check/batch', { company: 'acme', principal: { id: 'u3' }, checks: [{ action: 'view', resource: { type: 'Project', id: 'p1' } }] })).status).toBe(503);

    // Healed: current answers again, without a restart, and ready.
    await Promise.all([pg.restore(), redis!.restore()]);
    await until(async () => (await api(d.url, 'POST', '/v1/check', viewP1('u3'))).status === 200, 10_000);
    expect((await api(d.url, 'POST', '/v1/check', viewP1('u3'))).body).toMatchObject(DENIED);
    await until(async () => (await api(d.url, 'GET', '/readyz')).status === 200, 10_000);
  });

  it("rules from L2 answer a cold principal only within the bound of the company version's last confirmation", async () => {
    const { app: d, pg } = await isolated({ CACHE_MAX_STALENESS_MS: '100', CACHE_MAX_DEGRADED_MS: '2500' }, false);
    // d confirms the company's current version; u5's and u6's rules are put in L2 by the writer instance.
    expect((await api(d.url, 'POST', '/v1/check', viewP1('u4'))).body).toMatchObject({ allowed: true });
    const confirmed = Date.now();
    for (const user of ['u5', 'u6']) expect((await api(writer.url, 'POST', '/v1/check', viewP1(user))).body).toMatchObject({ allowed: true });
    await untilInL2(['u5', 'u6']);
    await pg.cut();

    await answeredWithinBoundThenRefused(d, confirmed, 2500, 'u5', 'u6');
    await pg.restore();
  });

  describe('a Redis slower than CACHE_L2_WAIT_MS', () => {
    /** d, reaching Redis through a proxy, confirms the company's version (u8); the writer puts u9's and u10's rules in L2. */
    async function slowRedisAndL2() {
      const { app: d, pg, redis } = await isolated({ CACHE_MAX_STALENESS_MS: '100', CACHE_MAX_DEGRADED_MS: '2500', CACHE_L2_WAIT_MS: '2' }, true);
      expect((await api(d.url, 'POST', '/v1/check', viewP1('u8'))).body).toMatchObject({ allowed: true });
      const confirmed = Date.now();
      for (const user of ['u9', 'u10']) expect((await api(writer.url, 'POST', '/v1/check', viewP1(user))).body).toMatchObject({ allowed: true });
      await untilInL2(['u9', 'u10']);
      return { d, pg, redis: redis!, confirmed };
    }

    it("with PostgreSQL away, rules L2 gives back late answer only within the bound of the company version's last confirmation, and the lookups are counted late", async () => {
      const { d, pg, redis, confirmed } = await slowRedisAndL2();
      // The setup's own lookup may have been late too, on a busy machine: only these two are counted.
      const lateBefore = (await scrape(d.url)).value('castellan_cache_lookups_total', { tier: 'l2', result: 'late' })!;
      redis.setLatency(100); // each way: L2 answers, well after the wait and well within Redis's 500 ms command timeout
      await pg.cut();
      await answeredWithinBoundThenRefused(d, confirmed, 2500, 'u9', 'u10');
      const s = await scrape(d.url);
      expect(s.value('castellan_cache_lookups_total', { tier: 'l2', result: 'late' })! - lateBefore).toBe(2);
      redis.setLatency(0);
      await pg.restore();
    });

    it('with PostgreSQL away and Redis stalled, a cold principal gets 503, never an allow', async () => {
      const { d, pg, redis } = await slowRedisAndL2();
      redis.stall();
      await pg.cut();
      // The load goes on without L2, fails, and waits for the lookup, which times out: nothing to answer from.
      const answer = await api(d.url, 'POST', '/v1/check', viewP1('u9'));
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('unavailable');
      redis.unstall();
      await pg.restore();
    });
  });

  it('CACHE_MAX_DEGRADED_MS=0 answers nothing from cache once an entry needs PostgreSQL', async () => {
    const { app: d, pg } = await isolated({ CACHE_MAX_STALENESS_MS: '100', CACHE_MAX_DEGRADED_MS: '0' }, false);
    expect((await api(d.url, 'POST', '/v1/check', viewP1('u7'))).body).toMatchObject({ allowed: true });
    await pg.cut();
    await sleep(300);
    expect((await api(d.url, 'POST', '/v1/check', viewP1('u7'))).status).toBe(503);
    await pg.restore();
  });
});
