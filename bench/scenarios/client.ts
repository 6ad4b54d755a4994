import { createCastellanClient, type CheckRequest } from '@castellan/client';
import { latencyPercentiles, type LatencyPercentiles } from '../lib/load.js';
import { startCastellan } from '../lib/processes.js';
import { batchBodies, samplePrincipals } from '../lib/workload.js';
import type { BenchContext } from './context.js';

/** One way of asking, timed: per call (sequential) or per round of concurrent calls. */
export interface ClientRow extends LatencyPercentiles {
  name: string;
  /** Decisions answered per second of wall time, over the whole row. */
  decisionsPerSecond: number;
  /** HTTP requests per decision: 1 unbatched, 1/N coalesced, 0 local. */
  requestsPerDecision: number;
  samples: number;
}

export interface ClientResult {
  status: 'ok';
  concurrent: number[];
  rows: ClientRow[];
}

/** Runs `task` `count` times, one after another after `warm` unrecorded ones; latencies in ms. */
async function timed(count: number, warm: number, task: (i: number) => Promise<unknown>): Promise<{ latencies: number[]; seconds: number }> {
  for (let i = 0; i < warm; i++) await task(i);
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await task(i);
    latencies.push(performance.now() - t);
  }
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

function row(name: string, run: { latencies: number[]; seconds: number }, decisionsPerCall: number, requestsPerCall: number): ClientRow {
  return {
    name,
    ...latencyPercentiles(run.latencies),
    decisionsPerSecond: (run.latencies.length * decisionsPerCall) / run.seconds,
    requestsPerDecision: requestsPerCall / decisionsPerCall,
    samples: run.latencies.length,
  };
}

/**
 * @castellan/client in the bench process (pinned to the load generator's CPU) against one
 * Castellan: a single check through the client beside the same body sent raw over node:http;
 * rounds of N concurrent checks for one principal, coalesced into one batch and unbatched;
 * the same check answered locally from the cached ability.
 */
export async function clientScenario(ctx: BenchContext): Promise<ClientResult> {
  const proc = await startCastellan('castellan-client', ctx.env);
  try {
    const [principal] = samplePrincipals(ctx.dataset.regular, 1, ctx.options.seed + 7);
    const body = JSON.parse(batchBodies([principal!], 100, ctx.options.seed + 8)[0]!) as { company: string; principal: { id: string }; checks: Array<Omit<CheckRequest, 'company' | 'principal'>> };
    const questions: CheckRequest[] = body.checks.map((q) => ({ company: body.company, principal: body.principal, ...q }));
    const raw = questions.map((q) => JSON.stringify(q));
    const options = { baseUrl: proc.url, timeoutMs: 5000 };
    const batched = createCastellanClient(options);
    const unbatched = createCastellanClient({ ...options, batching: false });
    const local = createCastellanClient({ ...options, refreshMs: 60_000 });
    const sequential = ctx.options.quick ? 1000 : 5000;
    const rounds = ctx.options.quick ? 100 : 400;
    const concurrent = [10, 100];
    const rows: ClientRow[] = [];

    ctx.log(`client: ${sequential} sequential checks raw and through the client`);
    rows.push(row('raw HTTP: node:http keep-alive, `/v1/check`', await timed(sequential, 200, (i) => ctx.http.post(`${proc.url}/v1/check`, raw[i % raw.length]!)), 1, 1));
    rows.push(row('client.check, one at a time (`/v1/check`)', await timed(sequential, 200, (i) => unbatched.check(questions[i % questions.length]!)), 1, 1));
    rows.push(row('client.checkLocally, one at a time (cached ability)', await timed(sequential, 200, (i) => local.checkLocally(questions[i % questions.length]!)), 1, 0));
    for (const n of concurrent) {
      ctx.log(`client: ${rounds} rounds of ${n} concurrent checks, coalesced and unbatched`);
      const round = (client: typeof batched) => (i: number) => Promise.all(Array.from({ length: n }, (_, j) => client.check(questions[(i * n + j) % questions.length]!)));
      rows.push(row(`${n} concurrent client.check, coalesced (one \`/v1/check/batch\`)`, await timed(rounds, 20, round(batched)), n, 1));
      rows.push(row(`${n} concurrent client.check, unbatched (${n} \`/v1/check\`)`, await timed(rounds, 20, round(unbatched)), n, n));
    }
    for (const r of rows) ctx.log(`  ${r.name}: p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, ${Math.round(r.decisionsPerSecond)} decisions/s`);
    return { status: 'ok', concurrent, rows };
  } finally {
    await proc.stop();
  }
}
