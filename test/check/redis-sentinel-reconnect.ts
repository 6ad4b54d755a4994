import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRedis, type RedisConnections, type RedisTuning } from '../../src/check/redis.js';
import { servicesUp } from '../support/services.js';
import { redisBinariesPresent, startRedisSentinel, type RedisSentinelSetup } from '../support/redis-servers.js';
import { waitFor } from './redis-modes.js';

const PASSWORD = 'sentinel-reconnect-password';
const CHANNEL = 'reconnect-test-notices';

/** The command connection fails at once while it is not connected (no offline queue): asked until it answers. */
const pingUntilAnswered = (connections: RedisConnections, timeoutMs: number) =>
  waitFor(() => connections.commands.ping().catch((error: Error) => error.message), (reply) => reply === 'PONG', timeoutMs);

/**
 * A failover while an instance is asking a Sentinel where the master is. The connection asks
 * the Sentinel it last used first, so that one is held still (SIGSTOP: the kernel accepts the
 * connection, nothing answers) while the other two elect the replica and announce it.
 */
describe.skipIf(!servicesUp || !redisBinariesPresent)('Redis Sentinel: a failover announced while a connection is asking a stalled Sentinel', () => {
  let redis: RedisSentinelSetup | undefined;
  let connections: RedisConnections | undefined;
  afterEach(async () => {
    connections?.disconnect();
    redis?.sentinels[0]?.resume();
    await redis?.close();
  });

  async function connectAndKillTheMaster(tuning: RedisTuning = {}) {
    redis = await startRedisSentinel({ password: PASSWORD });
    const sentinels = redis.sentinels.map((node) => ({ host: '127.0.0.1', port: node.port }));
    connections = connectRedis({ mode: 'sentinel', sentinels, name: redis.name, password: PASSWORD }, tuning);
    const received: string[] = [];
    connections.notices.onMessage((channel, message) => channel === CHANNEL && received.push(message));
    await connections.notices.subscribe(CHANNEL);
    expect(await pingUntilAnswered(connections, 10_000)).toBe('PONG');

    redis.sentinels[0]!.pause();
    await redis.master.kill();
    const setup = redis;
    const promoted = await waitFor(async () => setup.currentMasterPort(), (port) => port === setup.replica.port, 30_000);
    expect(promoted).toBe(redis.replica.port);
    return received;
  }

  /** Both connections answer on the new master: a command, and a notice published there. */
  async function expectBothConnectionsOnTheNewMaster(received: string[]) {
    expect(await pingUntilAnswered(connections!, 20_000)).toBe('PONG');
    const publisher = new Redis({ port: redis!.replica.port, host: '127.0.0.1', password: PASSWORD });
    try {
      const heard = await waitFor(
        async () => {
          await publisher.publish(CHANNEL, 'v2');
          return received;
        },
        (messages) => messages.includes('v2'),
        20_000,
      );
      expect(heard).toContain('v2');
    } finally {
      publisher.disconnect();
    }
  }

  it('the Sentinel answers after the failover was announced: the connections, dropped by the announcement mid-question, connect again', async () => {
    // The question outlasts the failover here, whatever the time the Sentinels take for it.
    const received = await connectAndKillTheMaster({ sentinelCommandTimeoutMs: 120_000 });
    // The promotion was read with a blocking redis-cli: the announcement reaches this process's
    // connections only once its event loop turns again.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    redis!.sentinels[0]!.resume();
    await expectBothConnectionsOnTheNewMaster(received);
  }, 90_000);

  it('the Sentinel never answers: the connections stop waiting for it and ask the others', async () => {
    const received = await connectAndKillTheMaster();
    await expectBothConnectionsOnTheNewMaster(received);
  }, 90_000);
});
