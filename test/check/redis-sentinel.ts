import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { redisBinariesPresent, redisCli, startRedisSentinel, type RedisSentinelSetup } from '../support/redis-servers.js';
import { DENIED, startTwoInstances, waitFor, type TwoInstances } from './redis-modes.js';

const PASSWORD = 'sentinel-test-password';

describe.skipIf(!servicesUp || !redisBinariesPresent)('Redis Sentinel (REDIS_SENTINELS): a master, a replica and three Sentinels, two instances', () => {
  let redis: RedisSentinelSetup;
  let two: TwoInstances;

  beforeAll(async () => {
    redis = await startRedisSentinel({ password: PASSWORD });
    two = await startTwoInstances({ REDIS_SENTINELS: redis.addresses, REDIS_SENTINEL_NAME: redis.name, REDIS_PASSWORD: PASSWORD });
  }, 120_000);
  /** The user's L2 key on the Redis at `port`, once it is written (after the answer). */
  const rulesKeysOn = async (port: number, user: string) => {
    const found = await waitFor(
      async () => redisCli(port, ['--scan', '--pattern', `${two.env.env.REDIS_KEY_PREFIX}*rules:acme ${user}`], PASSWORD),
      (keys) => keys.length > 0,
      10_000,
    );
    return found.split('\n').filter(Boolean);
  };
  afterAll(async () => {
    await two?.close();
    await redis?.close();
  });

  it('finds the master through the Sentinels, with the password, and keeps the rules there', async () => {
    expect(two.a.app.mode).toMatchObject({ cache: 'redis', redis: 'sentinel' });
    expect(await api(two.a.url, 'GET', '/readyz')).toMatchObject({ status: 200, body: { checks: { postgres: 'ok', redis: 'ok' } } });
    expect((await two.check(two.a, 'u10')).body).toMatchObject({ allowed: true });
    expect(await rulesKeysOn(redis.master.port, 'u10')).toHaveLength(1);
  });

  it('a write through A is seen by B without minVersion', async () => {
    expect((await two.check(two.b, 'u1')).body).toMatchObject({ allowed: true });
    const version = await two.revoke('u1');
    expect(await two.untilBDenies('u1', 10_000)).toMatchObject({ status: 200, body: { ...DENIED, version } });
  });

  it('killing the master loses no decision; after the Sentinels promote the replica both instances follow by themselves', async () => {
    for (const user of ['u2', 'u3', 'u4']) expect((await two.check(two.b, user)).body).toMatchObject({ allowed: true });
    const oldMaster = redis.currentMasterPort();
    expect(oldMaster).toBe(redis.master.port);
    await redis.master.kill();

    const during = await two.revoke('u2');
    expect((await two.check(two.a, 'u2')).body).toEqual({ ...DENIED, version: during });
    // (B's own copy of u2 is left alone here: asked with minVersion, B would reload it.)
    expect((await two.check(two.b, 'u4', during)).body).toMatchObject({ allowed: true, version: during });
    expect((await two.check(two.b, 'u5', during)).body).toMatchObject({ allowed: true, version: during });

    const promoted = await waitFor(async () => redis.currentMasterPort(), (port) => port === redis.replica.port, 30_000);
    expect(promoted).toBe(redis.replica.port);
    // B's subscriber follows the Sentinels to the new master, and its cache is cleared: the missed write shows.
    expect(await two.untilBDenies('u2', 30_000)).toMatchObject({ status: 200, body: { ...DENIED, version: during } });
    expect((await two.check(two.b, 'u3')).body).toMatchObject({ allowed: true });
    const after = await two.revoke('u3');
    // A's publishing connection may still be following the Sentinels: its notice is retried until it is.
    expect(await two.untilBDenies('u3', 40_000)).toMatchObject({ status: 200, body: { ...DENIED, version: after } });
    // Rules are cached on the new master again.
    expect((await two.check(two.a, 'u20')).body).toMatchObject({ allowed: true });
    expect(await rulesKeysOn(redis.replica.port, 'u20')).toHaveLength(1);
    expect(await waitFor(() => api(two.b.url, 'GET', '/readyz'), (reply) => reply.status === 200, 40_000)).toMatchObject({ status: 200 });
  }, 180_000);
});
