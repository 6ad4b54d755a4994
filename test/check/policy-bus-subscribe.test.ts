import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisPolicyBus, type PolicyBus } from '../../src/check/policy-bus.js';
import { connectRedis, type RedisConnections } from '../../src/check/redis.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { servicesUp } from '../support/services.js';
import { redisBinariesPresent, startRedisServer } from '../support/redis-servers.js';
import { waitFor } from './redis-modes.js';

const PREFIX = 'bus-subscribe-test:';

/**
 * An instance started while its Redis is away: its SUBSCRIBE, queued, was dropped after the
 * connection's retries, and ioredis only subscribes again to channels it saw subscribed.
 */
describe.skipIf(!servicesUp || !redisBinariesPresent)('policy notices when Redis comes up after the instance', () => {
  const closers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('the bus subscribes once Redis is there, hears notices, and clears the cache of the time without them', async () => {
    const server = await startRedisServer();
    closers.push(() => server.close());
    await server.kill();

    const connections: RedisConnections = connectRedis({ mode: 'server', url: `redis://127.0.0.1:${server.port}` });
    closers.push(() => connections.disconnect());
    const bus: PolicyBus = await createRedisPolicyBus({ notices: connections.notices, keyPrefix: PREFIX, logger: createLogger('silent'), metrics: createMetrics() });
    closers.push(() => bus.close());
    let cleared = 0;
    bus.onReconnect(() => cleared++);

    await server.start();
    const publisher = new Redis({ port: server.port, host: '127.0.0.1' });
    closers.push(() => publisher.disconnect());
    const heard = await waitFor(
      async () => {
        await publisher.publish(`${PREFIX}policy-versions`, 'acme 7');
        return bus.knownVersion('acme');
      },
      (version) => version === 7n,
      15_000,
    );
    expect(heard).toBe(7n);
    // Checks answered while Redis was away were cached without notices: the first subscription clears them.
    expect(cleared).toBe(1);
  }, 40_000);
});
