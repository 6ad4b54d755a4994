import { explainGrants, type GrantsPlan } from '../lib/explain.js';
import { latencyPercentiles, type LatencyPercentiles } from '../lib/load.js';
import { metric, scrape } from '../lib/metrics.js';
import type { Proc } from '../lib/processes.js';
import { checkBody } from '../lib/workload.js';
import type { BenchContext } from './context.js';

export interface ColdResult extends LatencyPercentiles {
  grants: number;
  principals: number;
  requestsPerSecond: number;
  mean: number;
  /** Mean of the server's own compile histogram over these loads (store reads and compile, no HTTP); NaN without /metrics. */
  serverMeanMs: number;
  errors: number;
  non2xx: number;
  wrongDecisions: number;
  /** The grants query's plan for the first of these principals. */
  plan: GrantsPlan | null;
  /** Grants held by the whole company these principals belong to. */
  companyGrants: number;
}

const COMPILE_SUM = 'castellan_compile_duration_seconds_sum';
const COMPILE_COUNT = 'castellan_compile_duration_seconds_count';

/**
 * Cache-miss compiles, one at a time so each latency is one compile and nothing queued
 * behind another: each principal is asked once, never seen by this instance nor in L2
 * (the run's Redis prefix is new). The latency is the whole /v1/check round trip.
 */
export async function coldScenario(ctx: BenchContext, main: Proc): Promise<ColdResult[]> {
  const results: ColdResult[] = [];
  const companyGrants = ctx.dataset.cold.reduce((n, g) => n + g.grants * g.principals.length, 0);
  for (const group of ctx.dataset.cold) {
    const before = await scrape(ctx.http, main.url);
    const latencies: number[] = [];
    let errors = 0;
    let non2xx = 0;
    let wrong = 0;
    const started = performance.now();
    for (const principal of group.principals) {
      const body = checkBody(principal, { action: 'view', resource: { type: 'Project', id: principal.projects[0]! } });
      try {
        const answer = await ctx.http.post(`${main.url}/v1/check`, body);
        if (answer.status !== 200) non2xx++;
        else {
          latencies.push(answer.ms);
          if ((JSON.parse(answer.text) as { allowed: boolean }).allowed !== true) wrong++;
        }
      } catch {
        errors++;
      }
    }
    const elapsedS = (performance.now() - started) / 1000;
    const after = await scrape(ctx.http, main.url);
    const compiles = metric(after, COMPILE_COUNT) - metric(before, COMPILE_COUNT);
    const compileSeconds = metric(after, COMPILE_SUM) - metric(before, COMPILE_SUM);
    const result: ColdResult = {
      grants: group.grants,
      principals: group.principals.length,
      requestsPerSecond: latencies.length / elapsedS,
      ...latencyPercentiles(latencies),
      mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
      serverMeanMs: compiles > 0 ? (compileSeconds / compiles) * 1000 : Number.NaN, // NaN when /metrics is not served
      errors,
      non2xx,
      wrongDecisions: wrong,
      plan: group.principals[0] ? await explainGrants(ctx.env.databaseUrl, group.principals[0].companyId, group.principals[0].userId).catch(() => null) : null,
      companyGrants,
    };
    const plan = result.plan ? `; grants query read ${result.plan.grantRowsRead} rows in ${result.plan.executionMs.toFixed(1)} ms (${result.plan.access.join(', ')})` : '';
    ctx.log(`  ${group.grants} grants: p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms over ${result.principals} principals${plan}`);
    results.push(result);
  }
  return results;
}
