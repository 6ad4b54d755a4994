import type { CerbosInstall } from '../lib/cerbos.js';
import { mapConcurrent } from '../lib/http.js';
import { runLoad, runLoadStaggered, summarise, type LoadRequest, type LoadRun, type LoadSpec, type LoadSummary } from '../lib/load.js';
import type { Proc } from '../lib/processes.js';
import type { PeerCase } from '../lib/workload.js';
import type { BenchContext, Skipped } from './context.js';

export interface Target {
  key: 'limit' | 'limitWork' | 'warm' | 'forwardAuth' | 'authzen' | 'warmAfter' | 'warmBaseline' | 'peerCastellan' | 'peerCerbos';
  spec: LoadSpec;
}

export interface PeerResult {
  status: 'ok';
  cerbosVersion: string;
  cerbos: LoadSummary;
  castellan: LoadSummary;
  /** Cases where either engine's answer differed from the expected decision, checked before the load. */
  decisionMismatches: { castellan: number; cerbos: number };
  cases: number;
}

export type PeerOutcome = PeerResult | Skipped;

/** Sends every request once and counts those not answered with one of `ok` (and puts each principal in L1, each token in the verified-token cache). */
export async function prewarmRequests(ctx: BenchContext, baseUrl: string, requests: readonly LoadRequest[], ok: readonly number[]): Promise<number> {
  const statuses = await mapConcurrent(requests, 16, async (r) => (await ctx.http.request(r.method, `${baseUrl}${r.path}`, r.body, r.headers)).status);
  return statuses.filter((s) => !ok.includes(s)).length;
}

/** Sends every body once and checks that each answers 200 (and puts each principal in L1). */
export async function prewarm(ctx: BenchContext, url: string, bodies: readonly string[]): Promise<number> {
  const statuses = await mapConcurrent(bodies, 16, async (body) => (await ctx.http.post(url, body)).status);
  return statuses.filter((s) => s !== 200).length;
}

/** Counts the peer cases whose answer is not the expected decision, for each engine. */
export async function peerMismatches(ctx: BenchContext, castellanUrl: string, cerbosUrl: string | null, cases: readonly PeerCase[]) {
  const castellan = await mapConcurrent(cases, 16, async (c) => {
    const answer = await ctx.http.post(`${castellanUrl}/v1/check`, c.castellan);
    return answer.status === 200 && (JSON.parse(answer.text) as { allowed: boolean }).allowed === c.expected;
  });
  const cerbos = cerbosUrl
    ? await mapConcurrent(cases, 16, async (c) => {
        const answer = await ctx.http.post(`${cerbosUrl}/api/check/resources`, c.cerbos);
        if (answer.status !== 200) return false;
        const parsed = JSON.parse(answer.text) as { results: Array<{ actions: Record<string, string> }> };
        return (parsed.results[0]?.actions.view === 'EFFECT_ALLOW') === c.expected;
      })
    : [];
  return { castellan: castellan.filter((ok) => !ok).length, cerbos: cerbos.filter((ok) => !ok).length };
}

/**
 * Runs every target `rounds` times, rotating the order each round, so that the limit,
 * Castellan and Cerbos all see the same machine (thermal state, noisy neighbours) and the
 * ratios compare like with like. A short unrecorded run first warms each one's JIT.
 */
export async function interleave(ctx: BenchContext, targets: Target[]): Promise<Map<Target['key'], LoadSummary>> {
  const { rounds, duration } = ctx.options;
  for (const target of targets) {
    ctx.log(`  warm-up ${target.key}`);
    await runLoad({ ...target.spec, durationS: 1 });
  }
  const runs = new Map<Target['key'], LoadRun[]>(targets.map((t) => [t.key, []]));
  for (let round = 0; round < rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const target of order) {
      const run = await runLoad({ ...target.spec, durationS: duration });
      runs.get(target.key)!.push(run);
      const cpu = run.serverCpuS === null ? '' : `, server CPU ${Math.round((run.serverCpuS / Math.max(1, run.ok)) * 1e6)} µs/req`;
      ctx.log(`  round ${round + 1}/${rounds} ${target.key}: ${Math.round(run.ok / run.durationS)} req/s${cpu}, ${run.non2xx} non-2xx, ${run.errors} errors`);
    }
  }
  return new Map(targets.map((t) => [t.key, summarise(runs.get(t.key)!, t.spec)]));
}

/** The batch endpoint, 100 checks a request. */
export async function batchLoad(ctx: BenchContext, main: Proc, bodies: readonly string[], checksPerRequest: number) {
  const spec: LoadSpec = { url: `${main.url}/v1/check/batch`, bodies, connections: ctx.options.connections, durationS: ctx.options.duration * ctx.options.rounds, serverPid: main.pid };
  await runLoad({ ...spec, durationS: 1 });
  const summary = summarise([await runLoad(spec)], spec);
  return { ...summary, checksPerRequest, decisionsPerSecond: summary.requestsPerSecond * checksPerRequest };
}

/**
 * The warm check at a fixed rate, half the measured peak: the latency a service sees short
 * of saturation. Run twice: as one autocannon instance with overallRate (its per-second
 * bursts make this close to the peak's latency) and staggered (see runLoadStaggered). Every
 * given target (this build and, with --baseline, the other) runs at the same rate,
 * alternating, so their latencies compare like with like.
 */
export async function rateLoads(ctx: BenchContext, warm: Target[], peak: number) {
  const overallRate = Math.max(1, Math.round(peak / 2));
  const bursty = new Map<Target['key'], LoadRun[]>(warm.map((t) => [t.key, []]));
  const staggered = new Map<Target['key'], LoadRun[]>(warm.map((t) => [t.key, []]));
  for (let round = 0; round < ctx.options.rounds; round++) {
    for (const target of round % 2 === 0 ? warm : [...warm].reverse()) {
      const spec = { ...target.spec, durationS: ctx.options.duration, overallRate };
      bursty.get(target.key)!.push(await runLoad(spec));
      staggered.get(target.key)!.push(await runLoadStaggered(spec));
    }
  }
  const summary = (runs: Map<Target['key'], LoadRun[]>, t: Target) => ({ ...summarise(runs.get(t.key)!, { ...t.spec, overallRate }), peakRequestsPerSecond: peak });
  return new Map(warm.map((t) => [t.key, { bursty: summary(bursty, t), staggered: summary(staggered, t) }]));
}

export function cerbosSkipped(install: CerbosInstall | null, requested: boolean): Skipped | null {
  if (!requested) return { status: 'skipped', reason: 'not requested (--no-peer or --only without peer)' };
  if (install && !install.ok) return { status: 'skipped', reason: install.reason };
  return null;
}
