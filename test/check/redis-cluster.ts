import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { redisBinariesPresent, redisCli, startRedisCluster, type RedisCluster } from '../support/redis-servers.js';
import { DENIED, startTwoInstances, USERS, waitFor, type TwoInstances } from './redis-modes.js';

describe.skipIf(!servicesUp || !redisBinariesPresent)('Redis Cluster (REDIS_CLUSTER_NODES): three masters with a replica each, two instances', () => {
  let cluster: RedisCluster;
  let two: TwoInstances;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    two = await startTwoInstances({ REDIS_CLUSTER_NODES: cluster.seeds });
  }, 120_000);
  afterAll(async () => {
    await two?.close();
    await cluster?.close();
  });

  it('says so when ready, and each principal\'s cached rules land on the slot of its own key: every master holds some', async () => {
    expect(two.a.app.mode).toMatchObject({ cache: 'redis', redis: 'cluster' });
    expect(await api(two.a.url, 'GET', '/readyz')).toMatchObject({ status: 200, body: { checks: { postgres: 'ok', redis: 'ok' } } });
    for (const user of USERS) expect((await two.check(two.a, user)).body).toMatchObject({ allowed: true });
    const prefix = two.env.env.REDIS_KEY_PREFIX!;
    const countOn = (port: number) => redisCli(port, ['--scan', '--pattern', `${prefix}*rules:acme *`]).split('\n').filter(Boolean).length;
    // The rules are written to L2 after the answer: wait until all 40 are there.
    const perMaster = await waitFor(
      async () => cluster.masters().map((node) => countOn(node.port)),
      (counts) => counts.reduce((sum, n) => sum + n, 0) === USERS.length,
      5000,
    );
    expect(perMaster.reduce((sum, n) => sum + n, 0)).toBe(USERS.length);
    expect(perMaster).toHaveLength(3);
    for (const count of perMaster) expect(count).toBeGreaterThan(0);
  });

  it('a write through A is seen by B without minVersion (the notice crosses the cluster)', async () => {
    expect((await two.check(two.b, 'u1')).body).toMatchObject({ allowed: true });
    const version = await two.revoke('u1');
    const reply = await two.untilBDenies('u1', 10_000);
    expect(reply).toMatchObject({ status: 200, body: { ...DENIED, version } });
  });

  it('killing the master that carries the notices loses no decision, and both instances recover by themselves', async () => {
    const prefix = two.env.env.REDIS_KEY_PREFIX!;
    const slot = Number(redisCli(cluster.nodes[0]!.port, ['cluster', 'keyslot', `${prefix}policy-versions`]));
    // u2 and u3 are cached by B before the failure.
    for (const user of ['u2', 'u3', 'u4']) expect((await two.check(two.b, user)).body).toMatchObject({ allowed: true });
    const victim = cluster.masterOfSlot(slot);
    await victim.kill();

    // During the failover: the write lands in PostgreSQL whatever Redis does, A knows of it at
    // once, and B, asked with the write's version, answers from the store.
    const during = await two.revoke('u2');
    expect((await two.check(two.a, 'u2')).body).toEqual({ ...DENIED, version: during });
    // (B's own copy of u2 is left alone here: asked with minVersion, B would reload it.)
    expect((await two.check(two.b, 'u4', during)).body).toMatchObject({ allowed: true, version: during });
    expect((await two.check(two.b, 'u5', during)).body).toMatchObject({ allowed: true, version: during });

    // Healthy alone is not enough: until the other nodes mark the victim failed, the cluster
    // still says ok with the victim as the slot's master.
    const servingPort = async () => {
      try {
        return cluster.masterOfSlot(slot).port;
      } catch {
        return victim.port; // no live master yet: the replica is still being promoted
      }
    };
    const promoted = await waitFor(servingPort, (port) => port !== victim.port, 60_000);
    expect(promoted).not.toBe(victim.port);
    await cluster.waitHealthy(30_000);
    // B hears of the write it missed: its subscription is made again on the new master, and its cache is cleared.
    expect(await two.untilBDenies('u2', 30_000)).toMatchObject({ status: 200, body: { ...DENIED, version: during } });
    // And later writes reach it as notices again.
    expect((await two.check(two.b, 'u3')).body).toMatchObject({ allowed: true });
    const after = await two.revoke('u3');
    expect(await two.untilBDenies('u3', 10_000)).toMatchObject({ status: 200, body: { ...DENIED, version: after } });
    expect(await waitFor(() => api(two.b.url, 'GET', '/readyz'), (reply) => reply.status === 200, 10_000)).toMatchObject({ status: 200 });
  }, 90_000);
});
