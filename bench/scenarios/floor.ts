import { Redis } from 'ioredis';
import pg from 'pg';
import { latencyPercentiles, type LatencyPercentiles } from '../lib/load.js';
import type { Proc } from '../lib/processes.js';
import type { BenchContext } from './context.js';

export type Hop = 'http' | 'postgres' | 'redis';

export interface HopFloor extends LatencyPercentiles {
  hop: Hop;
  /** The round trip timed: one that does no work at the other end. */
  what: string;
  count: number;
}

const ROUND_TRIPS = 2000;

/**
 * The host's own latency for each hop a cold load makes one after the other (the request to
 * the instance, its L2 lookup in Redis, its statement in PostgreSQL), each timed on a round
 * trip that does no work, from the bench's process, interleaved so the three meet the same
 * moments of the machine. A cold load's p99 cannot be below what these hops' tails add up to.
 */
export async function floorScenario(ctx: BenchContext, main: Proc): Promise<HopFloor[]> {
  const database = new pg.Client({ connectionString: ctx.env.databaseUrl, application_name: 'castellan-bench-floor' });
  await database.connect();
  const redis = new Redis(ctx.env.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const timings: Record<Hop, number[]> = { http: [], postgres: [], redis: [] };
  const time = async (hop: Hop, roundTrip: () => Promise<unknown>) => {
    const started = performance.now();
    await roundTrip();
    timings[hop].push(performance.now() - started);
  };
  const missingKey = `${ctx.env.redisKeyPrefix}floor:none`;
  try {
    for (let i = 0; i < ROUND_TRIPS; i++) {
      await time('http', () => ctx.http.request('GET', `${main.url}/healthz`));
      await time('postgres', () => database.query({ name: 'castellan_bench_floor', text: 'select $1::int as n', values: [i] }));
      await time('redis', () => redis.get(missingKey));
    }
  } finally {
    await database.end();
    redis.disconnect();
  }
  const what: Record<Hop, string> = {
    http: 'GET /healthz on the main instance',
    postgres: 'a prepared `select $1::int`',
    redis: 'GET of a missing key',
  };
  const floors = (Object.keys(timings) as Hop[]).map((hop) => ({ hop, what: what[hop], count: timings[hop].length, ...latencyPercentiles(timings[hop]) }));
  ctx.log(`  hops that do no work: ${floors.map((f) => `${f.hop} p50 ${f.p50.toFixed(3)} ms, p99 ${f.p99.toFixed(2)} ms`).join('; ')}`);
  return floors;
}
