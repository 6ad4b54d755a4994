import { REDIS_CLI, REDIS_SERVER } from '../../bench/lib/redis-servers.js';

/**
 * Real Redis topologies (bench/lib/redis-servers.ts) for the Cluster and Sentinel tests: skipped
 * without the binaries, failed instead under REQUIRE_SERVICES=1 (as services.ts does for the
 * shared PostgreSQL and Redis); `.ci/run` installs them.
 */
if (process.env.REQUIRE_SERVICES === '1' && !(REDIS_SERVER && REDIS_CLI)) {
  throw new Error('REQUIRE_SERVICES=1 but redis-server and redis-cli (Debian packages redis-server, redis-tools) are not both installed');
}

export * from '../../bench/lib/redis-servers.js';
