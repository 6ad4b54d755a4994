import { Redis } from 'ioredis';

/**
 * Commands fail at once while Redis is away (no offline queue, short timeout), so the
 * hot path falls back to PostgreSQL instead of waiting on a queue that may never drain.
 */
export function connectRedis(url: string, role: 'commands' | 'subscriber'): Redis {
  const redis = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: role === 'subscriber',
    maxRetriesPerRequest: 1,
    commandTimeout: role === 'commands' ? 500 : undefined,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    connectionName: `castellan-${role}`,
  });
  // Connection errors are reported through readiness, metrics and the fallbacks; an
  // 'error' event without a listener would crash the process.
  redis.on('error', () => {});
  return redis;
}
