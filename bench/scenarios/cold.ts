import { explainGrants, type GrantsPlan } from '../lib/explain.js';
import { latencyPercentiles, processCpuSeconds, type LatencyPercentiles } from '../lib/load.js';
import { metric, scrape, type MetricSamples } from '../lib/metrics.js';
import type { Proc } from '../lib/processes.js';
import { checkBody } from '../lib/workload.js';
import type { Dataset } from '../lib/dataset.js';
import type { BenchContext } from './context.js';

export interface ColdResult extends LatencyPercentiles {
  grants: number;
  principals: number;
  requestsPerSecond: number;
  mean: number;
  /** Mean CPU time of the instance per cold check, in microseconds; null without /proc. */
  serverCpuUs: number | null;
  /** Mean of the server's own compile histogram over these loads (store reads and compile, no HTTP); NaN without /metrics. */
  serverMeanMs: number;
  /**
   * From the same histogram: the smallest bucket bound that 99% of these loads finished
   * within (the server's p99, to the bucket), and the share finished within the goal's bound
   * (issue 16: 5 ms up to 100 grants, 25 ms for 5,000). Null without /metrics.
   */
  serverLoads?: { p99AtMostMs: number; goalMs: number; withinGoal: number } | null;
  /** The loads' steps, from the server's phase histogram: the L2 lookup, the load statement, the compile (and a version read, when rules came from L2). */
  serverPhases?: Partial<Record<LoadPhaseName, HistogramDelta>> | null;
  /** L2 lookups of the row that did not answer within CACHE_L2_WAIT_MS (PostgreSQL read instead); null when the server does not count them. */
  l2Late?: number | null;
  /** A `GET /healthz` (no work) after each cold check of the row: the host's own request latency at the same moments. */
  noopHttp?: LatencyPercentiles;
  errors: number;
  non2xx: number;
  wrongDecisions: number;
  /** The grants query's plan for the first of these principals. */
  plan: GrantsPlan | null;
  /** Grants held by the whole company these principals belong to. */
  companyGrants: number;
  /** The unmeasured warm-up checks before the group, in order: the first of the first group is the company's first load (its project set too). */
  warmupMs: number[];
}

const COMPILE = 'castellan_compile_duration_seconds';
const PHASES = 'castellan_load_phase_duration_seconds';
/** The server's bucket bounds (metrics.ts loadBuckets); a server without one of them is read to the bounds it has. */
const LOAD_BOUNDS = ['0.00025', '0.0005', '0.001', '0.002', '0.0025', '0.003', '0.005', '0.0075', '0.01', '0.015', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5'];

const L2_LATE = 'castellan_cache_lookups_total{tier="l2",result="late"}';
const nullIfNaN = (n: number) => (Number.isNaN(n) ? null : n);

export type LoadPhaseName = 'l2' | 'version' | 'store' | 'compile';
const PHASE_NAMES: LoadPhaseName[] = ['l2', 'version', 'store', 'compile'];

/** One histogram series over a row: how many were observed, their mean, and the smallest bucket bound 99% of them finished within. */
export interface HistogramDelta {
  count: number;
  meanMs: number;
  p99AtMostMs: number;
}

/** A series' observations between two scrapes, from its cumulative buckets; null when none (or no /metrics). */
function histogramDelta(before: MetricSamples | null, after: MetricSamples | null, name: string, label = ''): { count: number; meanMs: number; within: (le: string) => number; p99AtMostMs: number } | null {
  const labels = label ? `{${label}}` : '';
  const delta = (key: string) => metric(after, key) - metric(before, key);
  const count = delta(`${name}_count${labels}`);
  if (!(count > 0)) return null;
  const within = (le: string) => delta(`${name}_bucket{le="${le}"${label ? `,${label}` : ''}}`);
  const p99 = LOAD_BOUNDS.find((le) => within(le) >= 0.99 * count);
  return { count, meanMs: (delta(`${name}_sum${labels}`) / count) * 1000, within, p99AtMostMs: p99 === undefined ? Number.POSITIVE_INFINITY : Number(p99) * 1000 };
}

/** The server's own view of a row's loads, from its compile histogram before and after. */
function serverLoads(before: MetricSamples | null, after: MetricSamples | null, grants: number): ColdResult['serverLoads'] {
  const loads = histogramDelta(before, after, COMPILE);
  if (!loads) return null;
  const goal = grants <= 100 ? '0.005' : '0.025';
  return { p99AtMostMs: loads.p99AtMostMs, goalMs: Number(goal) * 1000, withinGoal: loads.within(goal) / loads.count };
}

/** Each step of the row's loads, from the server's phase histogram (servers before it have none). */
function serverPhases(before: MetricSamples | null, after: MetricSamples | null): ColdResult['serverPhases'] {
  const phases: NonNullable<ColdResult['serverPhases']> = {};
  for (const phase of PHASE_NAMES) {
    const delta = histogramDelta(before, after, PHASES, `phase="${phase}"`);
    if (delta) phases[phase] = { count: delta.count, meanMs: delta.meanMs, p99AtMostMs: delta.p99AtMostMs };
  }
  return Object.keys(phases).length ? phases : null;
}

/**
 * One principal's cold check on one instance: its latency and the instance's CPU time for
 * it (the instance does nothing else meanwhile; PostgreSQL's work is not in it), or what
 * went wrong.
 */
async function coldCheck(ctx: BenchContext, proc: Proc, principal: Dataset['cold'][number]['principals'][number]): Promise<{ ms: number; cpuUs: number | null } | 'error' | 'non2xx' | 'wrong'> {
  const body = checkBody(principal, { action: 'view', resource: { type: 'Project', id: principal.projects[0]! } });
  try {
    const cpuBefore = processCpuSeconds(proc.pid);
    const answer = await ctx.http.post(`${proc.url}/v1/check`, body);
    const cpuAfter = processCpuSeconds(proc.pid);
    if (answer.status !== 200) return 'non2xx';
    const cpuUs = cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) * 1e6;
    return (JSON.parse(answer.text) as { allowed: boolean }).allowed === true ? { ms: answer.ms, cpuUs } : 'wrong';
  } catch {
    return 'error';
  }
}

function summarise(grants: number, outcomes: Array<Awaited<ReturnType<typeof coldCheck>>>, elapsedS: number) {
  const latencies = outcomes.flatMap((o) => (typeof o === 'object' ? [o.ms] : []));
  const cpu = outcomes.flatMap((o) => (typeof o === 'object' && o.cpuUs !== null ? [o.cpuUs] : []));
  return {
    /** Mean CPU time of the instance per cold check, in microseconds (/proc, 10 ms ticks averaged over the checks). */
    serverCpuUs: cpu.length ? cpu.reduce((a, b) => a + b, 0) / cpu.length : null,
    grants,
    principals: outcomes.length,
    requestsPerSecond: latencies.length / elapsedS,
    ...latencyPercentiles(latencies),
    mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    errors: outcomes.filter((o) => o === 'error').length,
    non2xx: outcomes.filter((o) => o === 'non2xx').length,
    wrongDecisions: outcomes.filter((o) => o === 'wrong').length,
  };
}

/**
 * Cold principals asked before a group is measured, on the instance that measures it: the
 * first load of the company (its project set, read once per company and version) and the
 * first runs of the compile path for that size (V8 optimises a function after it has run)
 * are then not counted as a principal's cold load, as in a server that has been up a while.
 */
async function warmUp(ctx: BenchContext, proc: Proc, principals: Dataset['cold'][number]['warmup']): Promise<number[]> {
  const ms: number[] = [];
  for (const principal of principals) {
    const outcome = await coldCheck(ctx, proc, principal);
    ms.push(typeof outcome === 'object' ? outcome.ms : Number.NaN);
  }
  return ms;
}

/**
 * Cache-miss compiles, one at a time so each latency is one compile and nothing queued
 * behind another: each principal is asked once, never seen by this instance nor in L2
 * (the run's Redis prefix is new). The latency is the whole /v1/check round trip. After each,
 * a `GET /healthz` that does no work: what the host alone gives a request at the same moments,
 * beside what the server's histograms say each step of the loads took.
 */
export async function coldScenario(ctx: BenchContext, main: Proc, principals: Dataset['cold'] = ctx.dataset.cold): Promise<ColdResult[]> {
  const results: ColdResult[] = [];
  const companyGrants = ctx.dataset.cold.reduce((n, g) => n + g.grants * (g.principals.length + g.warmup.length), 0);
  for (const group of principals) {
    const warmupMs = await warmUp(ctx, main, group.warmup);
    const before = await scrape(ctx.http, main.url);
    const outcomes: Array<Awaited<ReturnType<typeof coldCheck>>> = [];
    const noopMs: number[] = [];
    let checksS = 0;
    for (const principal of group.principals) {
      const checkStarted = performance.now();
      outcomes.push(await coldCheck(ctx, main, principal));
      const noopStarted = performance.now();
      checksS += (noopStarted - checkStarted) / 1000;
      await ctx.http.request('GET', `${main.url}/healthz`);
      noopMs.push(performance.now() - noopStarted);
    }
    const after = await scrape(ctx.http, main.url);
    const result: ColdResult = {
      ...summarise(group.grants, outcomes, checksS),
      serverMeanMs: histogramDelta(before, after, COMPILE)?.meanMs ?? Number.NaN, // NaN when /metrics is not served
      serverLoads: serverLoads(before, after, group.grants),
      serverPhases: serverPhases(before, after),
      noopHttp: latencyPercentiles(noopMs),
      l2Late: nullIfNaN(metric(after, L2_LATE) - metric(before, L2_LATE)),
      plan: group.principals[0] ? await explainGrants(ctx.env.databaseUrl, group.principals[0].companyId, group.principals[0].userId).catch(() => null) : null,
      companyGrants,
      warmupMs,
    };
    const plan = result.plan ? `; load statement read ${result.plan.grantRowsRead} grant rows in ${result.plan.executionMs.toFixed(1)} ms (${result.plan.access.join(', ')})` : '';
    const server = result.serverLoads ? `; in the server, p99 at most ${result.serverLoads.p99AtMostMs} ms, ${(result.serverLoads.withinGoal * 100).toFixed(0)}% within ${result.serverLoads.goalMs} ms` : '';
    const phases = result.serverPhases ? `; steps' p99 at most ${Object.entries(result.serverPhases).map(([phase, d]) => `${phase} ${d.p99AtMostMs} ms`).join(', ')}, ${result.l2Late ?? 'n/a'} L2 lookups late` : '';
    ctx.log(`  ${group.grants} grants: p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms over ${result.principals} principals (a no-op request beside them: p99 ${result.noopHttp!.p99.toFixed(2)} ms)${server}${phases}${plan}`);
    results.push(result);
  }
  return results;
}

export interface ColdPairRow {
  grants: number;
  before: ReturnType<typeof summarise>;
  after: ReturnType<typeof summarise>;
}

/**
 * The same cold checks on the baseline build and this one, interleaved principal by
 * principal (even ones to one build, odd ones to the other, the order swapped every pair),
 * each principal asked once, so both meet the same machine and the same data. Principals
 * of the pair's own: neither instance nor L2 has seen them.
 */
export async function coldPairScenario(ctx: BenchContext, before: Proc, after: Proc, principals: Dataset['cold']): Promise<ColdPairRow[]> {
  const rows: ColdPairRow[] = [];
  for (const group of principals) {
    const half = Math.floor(group.warmup.length / 2);
    await warmUp(ctx, before, group.warmup.slice(0, half));
    await warmUp(ctx, after, group.warmup.slice(half));
    const outcomes = { before: [] as Array<Awaited<ReturnType<typeof coldCheck>>>, after: [] as Array<Awaited<ReturnType<typeof coldCheck>>> };
    const seconds = { before: 0, after: 0 };
    for (let i = 0; i + 1 < group.principals.length; i += 2) {
      const order = (i / 2) % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
      for (const [k, side] of order.entries()) {
        const started = performance.now();
        outcomes[side].push(await coldCheck(ctx, side === 'before' ? before : after, group.principals[i + k]!));
        seconds[side] += (performance.now() - started) / 1000;
      }
    }
    const row = { grants: group.grants, before: summarise(group.grants, outcomes.before, seconds.before), after: summarise(group.grants, outcomes.after, seconds.after) };
    ctx.log(`  ${group.grants} grants, before / after: p50 ${row.before.p50.toFixed(2)} / ${row.after.p50.toFixed(2)} ms, p99 ${row.before.p99.toFixed(2)} / ${row.after.p99.toFixed(2)} ms`);
    rows.push(row);
  }
  return rows;
}
