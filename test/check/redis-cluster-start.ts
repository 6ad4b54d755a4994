import { Cluster } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisPolicyBus, type PolicyBus } from '../../src/check/policy-bus.js';
import { connectRedis, type HostPort } from '../../src/check/redis.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { servicesUp } from '../support/services.js';
import { redisBinariesPresent, startRedisCluster } from '../support/redis-servers.js';
import { waitFor } from './redis-modes.js';

const PREFIX = 'cluster-start-test:';

/**
 * A Cluster holds a sharded SUBSCRIBE until the cluster is there: an instance started during a
 * Redis outage waited for it before listening, so the outage kept new instances from starting.
 */
describe.skipIf(!servicesUp || !redisBinariesPresent)('Redis Cluster away when an instance starts', () => {
  const closers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('the bus is ready without it; once the cluster is back, notices are heard and the cache of the time without them is cleared', async () => {
    const cluster = await startRedisCluster({ replicasPerMaster: 0 });
    closers.push(() => cluster.close());
    const seeds: HostPort[] = cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
    for (const node of cluster.nodes) await node.kill();

    const connections = connectRedis({ mode: 'cluster', nodes: seeds });
    closers.push(() => connections.disconnect());
    const started = Date.now();
    const bus: PolicyBus = await createRedisPolicyBus({ notices: connections.notices, keyPrefix: PREFIX, logger: createLogger('silent'), metrics: createMetrics() });
    closers.push(() => bus.close());
    expect(Date.now() - started).toBeLessThan(5_000);
    let cleared = 0;
    bus.onReconnect(() => cleared++);

    for (const node of cluster.nodes) await node.start();
    await cluster.waitHealthy();
    const publisher = new Cluster(seeds);
    closers.push(() => publisher.disconnect());
    const heard = await waitFor(
      async () => {
        await publisher.spublish(`${PREFIX}policy-versions`, 'acme 7').catch(() => 0);
        return bus.knownVersion('acme');
      },
      (version) => version === 7n,
      30_000,
    );
    expect(heard).toBe(7n);
    // At least once: the sharded subscriber group is rebuilt (and says so) each time the forming
    // cluster's topology changes, and each rebuild counts as a reconnect.
    expect(cleared).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
