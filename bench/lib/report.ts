import { HOT_PATH_FILES, type BaselineKind } from './baseline.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ColdPairRow, ColdResult, HistogramDelta } from '../scenarios/cold.js';
import type { HopFloor } from '../scenarios/floor.js';
import type { InvalidationOutcome } from '../scenarios/invalidation.js';
import type { MemoryResult } from '../scenarios/memory.js';
import type { ClientResult } from '../scenarios/client.js';
import type { PeerOutcome } from '../scenarios/throughput.js';
import type { SearchResult } from '../scenarios/search.js';
import type { OutboxResult } from '../scenarios/outbox.js';
import type { Skipped } from '../scenarios/context.js';
import type { BenchOptions } from './args.js';
import type { LoadSummary } from './load.js';
import type { Pinning } from './pinning.js';
import type { MachineInfo } from './machine.js';
import type { ProfileSummary, Window } from './profile.js';

export type BatchResult = LoadSummary & { checksPerRequest: number; decisionsPerSecond: number };
export type RateResult = LoadSummary & { peakRequestsPerSecond: number };
/** The fixed-rate runs: one autocannon instance (bursty), and staggered instances (closer to steady arrivals). */
export type RatePair = { bursty: RateResult; staggered: RateResult };
export type ProfileResult = ProfileSummary & { label: string; requestsPerSecond: number; cpuMicrosPerRequest: number | null; window: Window | null };
/** The same tree with the hot-path files of another commit, run interleaved with this build. */
export type BaselineOutcome =
  | { status: 'ok'; ref: string; commit: string; kind?: BaselineKind; warm: LoadSummary; rate: RatePair | null; after: { warm: LoadSummary; rate: RatePair | null } }
  | Skipped;

export interface Results {
  startedAt: string;
  finishedAt: string;
  totalSeconds: number;
  commandLine: string;
  quick: boolean;
  settings: Pick<BenchOptions, 'dataset' | 'users' | 'companies' | 'principals' | 'duration' | 'rounds' | 'connections' | 'writes' | 'coldPrincipals' | 'coldLarge' | 'memorySteps' | 'seed'>;
  machine: MachineInfo;
  /** Absent in results written before the bench pinned. */
  pinning?: Pinning;
  /** The machine's 1-, 5- and 15-minute load averages when the run started and ended: other work competes for the cores. */
  loadAverage: { start: number[]; end: number[] };
  cerbos: { version: string } | Skipped | null;
  dataset: { seconds: number; rows: Record<string, number> };
  prewarmFailures: number;
  scenarios: {
    limit?: LoadSummary;
    /** The limit server spinning `workMicros` of CPU per request: what that much work costs in throughput here. */
    limitWork?: LoadSummary & { workMicros: number };
    warm?: LoadSummary;
    /** `/v1/forward-auth` with the warm check's questions as a gateway asks them (403 counts as an answer). */
    forwardAuth?: LoadSummary;
    /** AuthZEN Access Evaluation with the warm check's questions. */
    authzen?: LoadSummary;
    batch?: BatchResult;
    search?: SearchResult;
    rate?: RatePair;
    peer?: PeerOutcome;
    cold?: ColdResult[];
    /** The host's round trips that do no work, timed just before the cold rows. */
    coldFloor?: HopFloor[];
    coldBaseline?: { ref: string; commit: string; kind?: BaselineKind; rows: ColdPairRow[] };
    invalidation?: InvalidationOutcome;
    memory?: MemoryResult;
    baseline?: BaselineOutcome;
    client?: ClientResult;
    outbox?: OutboxResult;
  };
  ratios: {
    warmOverLimit: number | null;
    limitWorkOverLimit: number | null;
    warmOverCerbos: number | null;
    /** Absent in results written before forward-auth and AuthZEN were benched. */
    forwardAuthOverWarm?: number | null;
    authzenOverWarm?: number | null;
    peerCastellanOverCerbos: number | null;
    /** The limit server's CPU per request over the warm check's: 1 would be a check that costs nothing beyond HTTP and JSON. */
    limitCpuOverWarmCpu: number | null;
    /** Cerbos's CPU per request over Castellan's, on the same question. */
    cerbosCpuOverCastellanCpu: number | null;
  };
  profiles?: ProfileResult[];
}

const ms = (value: number) => (Number.isFinite(value) ? (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)) : 'n/a');
const int = (value: number) => Math.round(value).toLocaleString('en-US');
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const ratio = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(2)}×`);

/** The slowest and fastest run under a mean of several: noise on a shared machine is the first thing to read. */
function spread(s: LoadSummary): string {
  const rates = s.runRequestsPerSecond ?? [];
  return rates.length > 1 ? ` (runs ${int(Math.min(...rates))}–${int(Math.max(...rates))})` : '';
}

/** Above this spread of the limit's runs (max - min over their median), the machine changed under the run. */
export const UNSTEADY_SPREAD = 0.3;

/**
 * The limit server is the same code doing the same work in every run, so how far its runs
 * spread is how far the machine moved during this one (other tenants of the host, mostly).
 */
export function steadinessOf(limit: LoadSummary | undefined): { steady: boolean; text: string } | null {
  const rates = [...(limit?.runRequestsPerSecond ?? [])].sort((a, b) => a - b);
  if (rates.length < 2) return null;
  const median = rates[Math.floor(rates.length / 2)]!;
  const spread = (rates[rates.length - 1]! - rates[0]!) / median;
  const steady = spread <= UNSTEADY_SPREAD;
  const range = `the limit's runs ranged from ${int(rates[0]!)} to ${int(rates[rates.length - 1]!)} req/s, a spread of ${Math.round(spread * 100)}% of their median`;
  return {
    steady,
    text: steady
      ? `Steadiness: ${range} (at most ${UNSTEADY_SPREAD * 100}%: the machine held still enough to read this run's numbers).`
      : `**Unsteady run**: ${range} (more than ${UNSTEADY_SPREAD * 100}%): the machine changed during the run, and its numbers should not be compared with other runs'.`,
  };
}

function loadRow(name: string, s: LoadSummary, extra = ''): string {
  const errors = `${s.errors}${s.timeouts ? ` (${s.timeouts} timeouts)` : ''}`;
  const cpu = s.serverCpuMicrosPerRequest === null ? 'n/a' : s.serverCpuMicrosPerRequest.toFixed(0);
  return `| ${name} | ${int(s.requestsPerSecond)}${extra}${spread(s)} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.p999)} | ${ms(s.max)} | ${cpu} | ${s.non2xx} | ${errors} | ${s.runs} × ${(s.durationS / s.runs).toFixed(0)} s, ${s.connections} conn${s.overallRate ? `, ${int(s.overallRate)}/s target` : ''} |`;
}

function throughputSection(r: Results): string[] {
  const { limit, limitWork, warm, forwardAuth, authzen, batch, rate, peer } = r.scenarios;
  const lines = [
    '## Throughput and latency',
    '',
    'Latency is measured by the load generator per response, in milliseconds. Requests/s counts 2xx answers only. Server CPU is the CPU time (user and system, every thread) the server process used per 2xx answer, in microseconds: it depends less than requests/s on what else runs on the machine (contention still raises it).',
    '',
    '| scenario | requests/s | p50 | p99 | p99.9 | max | server CPU µs/req | non-2xx | errors | runs |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  if (limit) lines.push(loadRow('limit: bare node:http, parse JSON, constant answer', limit));
  if (limitWork) lines.push(loadRow(`limit + ${limitWork.workMicros} µs of CPU per request (calibration)`, limitWork));
  if (warm) lines.push(loadRow('warm check: `/v1/check`, all principals in L1', warm));
  if (forwardAuth) lines.push(loadRow('forward-auth: `/v1/forward-auth`, the same questions through routes.json, bearer tokens (200 or 403)', forwardAuth));
  if (authzen) lines.push(loadRow('AuthZEN evaluation: `/authzen/{company}/access/v1/evaluation`, the same questions', authzen));
  if (rate) {
    lines.push(loadRow('warm check at half the peak: one autocannon instance, overallRate', rate.bursty));
    lines.push(loadRow('warm check at half the peak: staggered instances, same total rate', rate.staggered));
  }
  if (batch) lines.push(loadRow(`batch: \`/v1/check/batch\`, ${batch.checksPerRequest} checks each`, batch, ` (${int(batch.decisionsPerSecond)} decisions/s)`));
  if (peer?.status === 'ok') {
    lines.push(loadRow('peer, Castellan: `/v1/check` "may view project"', peer.castellan));
    lines.push(loadRow(`peer, Cerbos ${peer.cerbosVersion}: \`/api/check/resources\`, 1 resource, 1 action`, peer.cerbos));
  }
  lines.push('');
  const steadiness = steadinessOf(limit);
  if (steadiness) lines.push(steadiness.text, '');
  if (peer?.status === 'skipped') lines.push(`Peer (Cerbos): **skipped**: ${peer.reason}.`, '');
  if (peer?.status === 'ok') {
    lines.push(
      `Peer decisions checked before the load on all ${peer.cases} cases (half allowed, half denied): ${peer.decisionMismatches.castellan} differed from the expected answer on Castellan, ${peer.decisionMismatches.cerbos} on Cerbos.`,
      '',
    );
  }
  return lines;
}

function ratioSection(r: Results): string[] {
  const rate = r.scenarios.rate;
  return [
    '## Ratios',
    '',
    '| ratio | value |',
    '|---|---:|',
    `| warm check / limit (requests/s) | ${ratio(r.ratios.warmOverLimit)} |`,
    `| limit / warm check (server CPU per request) | ${ratio(r.ratios.limitCpuOverWarmCpu)} |`,
    `| limit + ${r.scenarios.limitWork?.workMicros ?? '?'} µs of work / limit (requests/s): the calibration | ${ratio(r.ratios.limitWorkOverLimit)} |`,
    `| warm check / Cerbos (requests/s) | ${ratio(r.ratios.warmOverCerbos)} |`,
    ...(r.ratios.forwardAuthOverWarm != null ? [`| forward-auth / warm check (requests/s) | ${ratio(r.ratios.forwardAuthOverWarm)} |`] : []),
    ...(r.ratios.authzenOverWarm != null ? [`| AuthZEN evaluation / warm check (requests/s) | ${ratio(r.ratios.authzenOverWarm)} |`] : []),
    `| Castellan / Cerbos on the same question (requests/s) | ${ratio(r.ratios.peerCastellanOverCerbos)} |`,
    `| Cerbos / Castellan on the same question (server CPU per request) | ${ratio(r.ratios.cerbosCpuOverCastellanCpu)} |`,
    ...(rate
      ? [
          `| p99 of the warm check at half its peak, ${int(rate.bursty.overallRate ?? 0)} req/s target: one instance (${int(rate.bursty.requestsPerSecond)} achieved) | ${ms(rate.bursty.p99)} ms |`,
          `| the same, staggered instances (${int(rate.staggered.requestsPerSecond)} achieved) | ${ms(rate.staggered.p99)} ms |`,
        ]
      : []),
    '',
  ];
}

/** The hops of a cold load, timed doing nothing: what the machine adds to every cold load's tail whatever Castellan does. */
function floorLines(floor: HopFloor[] | undefined): string[] {
  if (!floor?.length) return [];
  return [
    `Just before the rows, the host's own round trips, each doing no work at the other end, ${floor[0]!.count.toLocaleString('en-US')} of each, interleaved, from the bench's process: a cold load makes these hops one after the other (the request, the L2 lookup, the statement), so its p99 carries their tails.`,
    '',
    '| hop | round trip | p50 | p90 | p99 | p99.9 | max |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...floor.map((f) => `| ${f.hop} | ${f.what} | ${ms(f.p50)} | ${ms(f.p90)} | ${ms(f.p99)} | ${ms(f.p999)} | ${ms(f.max)} |`),
    '',
  ];
}

function coldSection(cold: ColdResult[] | undefined, floor?: HopFloor[]): string[] {
  if (!cold) return [];
  return [
    '## Cold compile',
    '',
    `One \`/v1/check\` per principal never seen before (L1 and L2 miss: the L2 lookup, then the principal's load in one statement that reads the company's version with the facts, and a second with the company's project list only when the company has moved past the list the instance holds; compile), one at a time. Latency is the whole round trip; "server mean" is the instance's own compile histogram (L2 lookup, store read and compile, no HTTP), and "server p99 ≤" the histogram's smallest bucket bound that 99% of the row's loads finished within, with the share finished within the issue's goal (5 ms up to 100 grants, 25 ms for 5,000).`,
    '',
    '| project grants | principals | requests/s | p50 | p90 | p99 | p99.9 | max | server mean | server p99 ≤ | server within goal | server CPU µs per check | non-2xx | errors | wrong decisions |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...cold.map(
      (c) =>
        `| ${int(c.grants)} | ${c.principals} | ${int(c.requestsPerSecond)} | ${ms(c.p50)} | ${ms(c.p90)} | ${ms(c.p99)} | ${ms(c.p999)} | ${ms(c.max)} | ${ms(c.serverMeanMs)} | ${c.serverLoads ? `${c.serverLoads.p99AtMostMs} ms` : 'n/a'} | ${c.serverLoads ? `${(c.serverLoads.withinGoal * 100).toFixed(0)}% within ${c.serverLoads.goalMs} ms` : 'n/a'} | ${c.serverCpuUs == null ? 'n/a' : int(c.serverCpuUs)} | ${c.non2xx} | ${c.errors} | ${c.wrongDecisions} |`,
    ),
    '',
    'With fewer than 1,000 principals in a row, p99.9 is the maximum; with fewer than 100, so is p99.',
    '',
    ...coldStepLines(cold),
    ...floorLines(floor),
    ...(cold.some((c) => c.warmupMs?.length)
      ? [
          `Before each row, ${cold.map((c) => `${c.warmupMs?.length ?? 0}`).join(', ')} other cold principals of the same shape were asked and not counted (${cold.map((c) => (c.warmupMs ?? []).map((v) => ms(v)).join(' / ')).join('; ')} ms, in order): the very first is the company's first load, which reads its registered projects too (once per company and version), and the first runs of each size are V8's unoptimised code. A row measures a principal's cold load in a server that has been up a while.`,
          '',
        ]
      : []),
    ...coldPlans(cold),
  ];
}

/** Where a row's milliseconds went: the server's histogram of each load step, beside a request that does no work asked right after each cold one. */
function coldStepLines(cold: ColdResult[]): string[] {
  const stepped = cold.filter((c) => c.serverPhases && c.noopHttp);
  if (stepped.length === 0) return [];
  const step = (d: HistogramDelta | undefined) => (d ? `${ms(d.meanMs)} / ≤ ${d.p99AtMostMs}` : '-');
  return [
    "Where the time goes: after each cold check, a `GET /healthz` that does no work (the host's own request latency at the same moments), and the instance's histogram of each step of its loads (mean / the smallest bucket bound 99% finished within, in ms): the L2 lookup in Redis (timed to its answer, also when the load went on without it), the load statement in PostgreSQL (from sending it to the continuation running with the rows parsed), the compile; and how many L2 lookups did not answer within `CACHE_L2_WAIT_MS` (5 ms by default), the load reading PostgreSQL meanwhile. What the round trip has beyond the load is HTTP, JSON and the decision.",
    '',
    '| project grants | round trip p50 / p99 | no-op request p50 / p99 | whole load mean / p99 ≤ | L2 lookup | L2 late | load statement | compile |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...stepped.map((c) => {
      const p = c.serverPhases!;
      return `| ${int(c.grants)} | ${ms(c.p50)} / ${ms(c.p99)} | ${ms(c.noopHttp!.p50)} / ${ms(c.noopHttp!.p99)} | ${ms(c.serverMeanMs)} / ≤ ${c.serverLoads?.p99AtMostMs ?? 'n/a'} | ${step(p.l2)} | ${c.l2Late ?? 'n/a'} | ${step(p.store)} | ${step(p.compile)} |`;
    }),
    '',
  ];
}

/** The cold checks of the before/after pair, interleaved principal by principal. */
function coldPairSection(pair: Results['scenarios']['coldBaseline']): string[] {
  if (!pair) return [];
  return [
    '### Cold compile before and after',
    '',
    `Other principals of the same company, never seen by either instance, asked one at a time alternately of "before" (${pair.kind === 'whole' ? 'the whole tree' : 'this tree with the hot-path and load-path files'} of \`${pair.ref}\`, ${pair.commit.slice(0, 10)}) and "after" (this tree). Both read the same database, with this tree's migrations applied.`,
    '',
    '| project grants | build | principals | p50 | p90 | p99 | max | mean | server CPU µs per check | non-2xx | errors | wrong decisions |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...pair.rows.flatMap((row) =>
      (['before', 'after'] as const).map((side) => {
        const c = row[side];
        return `| ${int(row.grants)} | ${side} | ${c.principals} | ${ms(c.p50)} | ${ms(c.p90)} | ${ms(c.p99)} | ${ms(c.max)} | ${ms(c.mean)} | ${c.serverCpuUs === null ? 'n/a' : int(c.serverCpuUs)} | ${c.non2xx} | ${c.errors} | ${c.wrongDecisions} |`;
      }),
    ),
    '',
  ];
}

/** What the grants query's plan showed: the cost of a cold load follows the company's grants, not the principal's. */
function coldPlans(cold: ColdResult[]): string[] {
  const planned = cold.filter((c) => c.plan);
  if (planned.length === 0) return [];
  // Results written before the one-statement load have the grants query's plan, without planning time or buffers.
  if (planned[0]!.plan!.planningMs === undefined) {
    return [
      `The grants query of a cold load (the project's \`explainGrantsQuery\` of that time, run under \`EXPLAIN ANALYZE\` for the first principal of each row; their company holds ${int(cold[0]!.companyGrants)} grants):`,
      '',
      '| project grants of the principal | project_grants rows read | execution | access path |',
      '|---:|---:|---:|---|',
      ...planned.map((c) => `| ${int(c.grants)} | ${int(c.plan!.grantRowsRead)} | ${ms(c.plan!.executionMs)} ms | ${c.plan!.access.join(', ')} |`),
      '',
    ];
  }
  return [
    `The statement of a cold load (the project's \`PRINCIPAL_LOAD_SQL\`, run under \`EXPLAIN (ANALYZE, BUFFERS)\` for the first principal of each row, after one run to warm the catalog caches; their company holds ${int(cold[0]!.companyGrants)} grants):`,
    '',
    '| project grants of the principal | project_grants rows read | heap fetches | buffers | planning | execution | access path |',
    '|---:|---:|---:|---:|---:|---:|---|',
    ...planned.map(
      (c) =>
        `| ${int(c.grants)} | ${int(c.plan!.grantRowsRead)} | ${int(c.plan!.grantHeapFetches)} | ${int(c.plan!.buffers)} | ${ms(c.plan!.planningMs)} ms | ${ms(c.plan!.executionMs)} ms | ${c.plan!.access.join(', ')} |`,
    ),
    '',
    ...planned.flatMap((c) => [`<details><summary>EXPLAIN (ANALYZE, BUFFERS), ${int(c.grants)} grants</summary>`, '', '```', c.plan!.text, '```', '', '</details>', '']),
  ];
}


function searchSection(search: SearchResult | undefined): string[] {
  if (!search) return [];
  return [
    '## AuthZEN subject search',
    '',
    `Who may view a project with ${int(search.members)} members (every other one through a team; 2,000 more members of the company without it): the whole result, ${int(search.expected)} users with the company's owner, paged through one page after the other on an instance of its own. Each page is one query over the memberships key, stopped at the page's limit.`,
    '',
    '| page.limit | pages | users | wrong | total | page p50 | page p99 | page max | first page | last page | instance RSS peak |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...search.passes.map(
      (p) =>
        `| ${int(p.limit)} | ${p.pages} | ${int(p.results)} | ${p.wrong} | ${p.totalSeconds.toFixed(2)} s | ${ms(p.p50)} | ${ms(p.p99)} | ${ms(p.max)} | ${ms(p.firstPageMs)} | ${ms(p.lastPageMs)} | ${mib(p.rssPeakBytes)} |`,
    ),
    '',
    `After a full GC: ${mib(search.before.heapUsedBytes)} of heap and ${mib(search.before.rssBytes)} RSS before the two passes, ${mib(search.after.heapUsedBytes)} and ${mib(search.after.rssBytes)} after.`,
    '',
  ];
}

function invalidationSection(inv: InvalidationOutcome | undefined): string[] {
  if (!inv) return [];
  if (inv.status === 'skipped') return ['## Invalidation', '', `**Skipped**: ${inv.reason}.`, ''];
  return [
    '## Invalidation',
    '',
    `Two instances, A and B. Write: ${inv.write}, sent to A. Measured: from A's response to the first answer from B with the new decision, asked without \`minVersion\` (B polled back to back).`,
    '',
    '| writes | p50 | p90 | p99 | p99.9 | max | mean | timeouts (10 s) | failed writes | B answered an older version | write on A, p50 |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${inv.writes} | ${ms(inv.p50)} | ${ms(inv.p90)} | ${ms(inv.p99)} | ${ms(inv.p999)} | ${ms(inv.max)} | ${ms(inv.mean)} | ${inv.timeouts} | ${inv.writeErrors} | ${inv.staleVersions} | ${ms(inv.writeP50)} |`,
    '',
  ];
}

function memorySection(mem: MemoryResult | undefined): string[] {
  if (!mem) return [];
  return [
    '## Memory',
    '',
    'One instance; each principal is asked one check (a miss: loaded and compiled into L1, 32 at a time), then a full GC in the instance, then its `process.memoryUsage()`.',
    '',
    '| principals in L1 | RSS | heap used | heap per principal | time to load | non-2xx |',
    '|---:|---:|---:|---:|---:|---:|',
    `| 0 (started) | ${mib(mem.baseline.rssBytes)} | ${mib(mem.baseline.heapUsedBytes)} | | | |`,
    ...mem.steps.map(
      (s) =>
        `| ${int(s.principals)} | ${mib(s.rssBytes)} | ${mib(s.heapUsedBytes)} | ${s.heapBytesPerPrincipal === null ? '' : `${(s.heapBytesPerPrincipal / 1024).toFixed(2)} KiB (${int(s.heapBytesPerPrincipal)} bytes)`} | ${s.loadSeconds.toFixed(1)} s | ${s.non2xx} |`,
    ),
    '',
    ...(mem.note ? [mem.note, ''] : []),
  ];
}

function clientSection(client: ClientResult | undefined): string[] {
  if (!client) return [];
  return [
    '## Client',
    '',
    '`@castellan/client` in the bench process (on the load generator\'s CPU when pinned) against one warm instance, one principal, a mix of 100 questions. Sequential rows: one call at a time, latency per call. Concurrent rows: rounds of N `client.check` calls started together (`Promise.all`), latency per round; the coalesced client sends each round as one `/v1/check/batch`, the unbatched one as N `/v1/check`.',
    '',
    '| way of asking | decisions/s | p50 | p99 | p99.9 | max | HTTP requests per decision | samples |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...client.rows.map((r) => `| ${r.name} | ${int(r.decisionsPerSecond)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.p999)} | ${ms(r.max)} | ${r.requestsPerDecision === 0 ? '0' : r.requestsPerDecision.toFixed(r.requestsPerDecision < 1 ? 2 : 0)} | ${int(r.samples)} |`),
    '',
  ];
}

function outboxSection(outbox: OutboxResult | undefined): string[] {
  if (!outbox) return [];
  return [
    '## Webhook outbox',
    '',
    "The webhook worker's claim (`claimHeads` in `src/webhooks/outbox.ts`: lease up to 4 companies' oldest undelivered events, found by skipping through the `(company_id, id)` index one company at a time), timed in the bench process straight on PostgreSQL against backlogs of growing size, each claim's leases given back before the next. One claim is what an instance costs the database per poll, or per 4 deliveries while it drains.",
    '',
    '| backlog | companies | p50 | p90 | p99 | max | claims |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...outbox.shapes.map((s) => `| ${int(s.events)} | ${int(s.companies)} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ${int(s.claims)} |`),
    '',
    `Draining ${int(outbox.drain.events)} events of ${int(outbox.drain.companies)} companies, claim then mark delivered, no HTTP: ${outbox.drain.seconds.toFixed(2)} s, ${int(outbox.drain.eventsPerSecond)} events/s (the database's share; a receiver's answer time adds to it, 4 companies at a time per instance).`,
    '',
  ];
}

function baselineSection(r: Results): string[] {
  const b = r.scenarios.baseline;
  if (!b) return [];
  if (b.status === 'skipped') return ['## Before and after the warm-path change', '', `**Skipped**: ${b.reason}.`, ''];
  const rate = r.scenarios.rate;
  const pair = (r: RateResult | undefined) => (r ? `${ms(r.p50)} / ${ms(r.p99)}` : 'n/a');
  const row = (name: string, s: LoadSummary, atRate: RatePair | null | undefined) =>
    `| ${name} | ${int(s.requestsPerSecond)} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.p999)} | ${s.serverCpuMicrosPerRequest?.toFixed(0) ?? 'n/a'} | ${pair(atRate?.bursty)} | ${pair(atRate?.staggered)} | ${s.non2xx + (atRate?.bursty.non2xx ?? 0) + (atRate?.staggered.non2xx ?? 0)} | ${s.errors + (atRate?.bursty.errors ?? 0) + (atRate?.staggered.errors ?? 0)} |`;
  return [
    '## Before and after the warm-path change',
    '',
    `Both builds ran in this invocation, each in a fresh instance warmed with the same principals, under the same load, interleaved: "before" is ${b.kind === 'whole' ? `the whole tree at \`${b.ref}\` (${b.commit.slice(0, 10)}), built on its own with its own policy files (its hot-path files no longer build against this tree's wiring), on this tree's database` : `this tree with the hot-path files (${HOT_PATH_FILES.map((f) => `\`${f}\``).join(', ')}) taken from \`${b.ref}\` (${b.commit.slice(0, 10)})`}, "after" is this tree. The fixed-rate runs use the same rate for both${rate ? ` (${int(rate.bursty.overallRate ?? 0)} req/s, half of the after build's peak)` : ''}.`,
    '',
    '| build | requests/s | p50 | p99 | p99.9 | server CPU µs/req | p50 / p99 at the fixed rate, one instance | the same, staggered | non-2xx | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    row(`before (${b.ref})`, b.warm, b.rate),
    row('after (this tree)', b.after.warm, b.after.rate),
    '',
  ];
}

/**
 * bench/SCALE.md, verbatim: issue 16's measurements (memory per principal by constructor,
 * cold loads, the 1m dataset), taken by runs of their own (their commands are in it), which
 * a full run does not repeat.
 */
function scaleSection(root: string): string[] {
  const file = path.join(root, 'bench/SCALE.md');
  return existsSync(file) ? [readFileSync(file, 'utf8').trim(), ''] : [];
}

/** Values the hand-written bench/PROFILE.md may quote as {{name}}: every number in it then comes from this run. */
function templateValues(r: Results): Map<string, string> {
  const values = new Map<string, string>();
  const put = (name: string, value: number | null | undefined, format: (v: number) => string) => {
    if (value !== null && value !== undefined && Number.isFinite(value)) values.set(name, format(value));
  };
  const load = (prefix: string, s: LoadSummary | undefined | null) => {
    put(`${prefix}.rps`, s?.requestsPerSecond, int);
    put(`${prefix}.p50`, s?.p50, ms);
    put(`${prefix}.p99`, s?.p99, ms);
    put(`${prefix}.cpu`, s?.serverCpuMicrosPerRequest, (v) => v.toFixed(0));
  };
  const b = r.scenarios.baseline?.status === 'ok' ? r.scenarios.baseline : null;
  load('after', b ? b.after.warm : r.scenarios.warm);
  load('before', b?.warm);
  load('limit', r.scenarios.limit);
  load('warm', r.scenarios.warm);
  put('after.rateP99', r.scenarios.rate?.bursty.p99, ms);
  put('before.rateP99', b?.rate?.bursty.p99, ms);
  put('after.staggeredP99', r.scenarios.rate?.staggered.p99, ms);
  put('before.staggeredP99', b?.rate?.staggered.p99, ms);
  put('rate', r.scenarios.rate?.bursty.overallRate, int);
  put('cold1.p50', (Array.isArray(r.scenarios.cold) ? r.scenarios.cold : []).find((row) => row.grants === 1)?.p50, ms);
  put('warmOverLimit', r.ratios.warmOverLimit, (v) => v.toFixed(2));
  put('limitWorkOverLimit', r.ratios.limitWorkOverLimit, (v) => v.toFixed(2));
  put('limitWork.us', r.scenarios.limitWork?.workMicros, int);
  load('limitWork', r.scenarios.limitWork);
  put('limitCpuOverWarmCpu', r.ratios.limitCpuOverWarmCpu, (v) => v.toFixed(2));
  put('warmOverCerbos', r.ratios.warmOverCerbos, (v) => v.toFixed(2));
  if (b) values.set('ref', b.ref).set('commit', b.commit.slice(0, 10));
  for (const profile of r.profiles ?? []) {
    const which = profile.label === 'this-build' ? 'after' : 'before';
    for (const area of profile.areas) values.set(`profile.${which}:${area.name}`, `${area.percent}%`);
    for (const fn of profile.functions) values.set(`profile.${which}:${fn.name.split(' ')[0]}`, `${fn.percent}%`);
  }
  return values;
}

function fillTemplate(text: string, values: Map<string, string>): string {
  return text.replace(/\{\{([^}]+)\}\}/g, (_, name: string) => values.get(name.trim()) ?? 'n/a');
}

function profileTables(profiles: ProfileResult[]): string[] {
  if (profiles.length === 0) return [];
  const names = [...new Set(profiles.flatMap((p) => p.areas.slice(0, 12).map((a) => a.name)))];
  const percent = (p: ProfileResult, name: string) => p.areas.find((a) => a.name === name)?.percent;
  names.sort((x, y) => Math.max(...profiles.map((p) => percent(p, y) ?? 0)) - Math.max(...profiles.map((p) => percent(p, x) ?? 0)));
  const lines = [
    `Profiles of this run (\`--profile\`): one instance per build under \`node --cpu-prof\`, the same warm load (${profiles.map((p) => `${p.label}: ${int(p.requestsPerSecond)} req/s, ${p.cpuMicrosPerRequest?.toFixed(0) ?? 'n/a'} µs CPU/req, ${p.idlePercent}% of samples idle`).join('; ')}). Self time of the samples taken under load, as shares of the busy ones, by area:`,
    '',
    `| area | ${profiles.map((p) => p.label).join(' | ')} |`,
    `|---|${profiles.map(() => '---:').join('|')}|`,
    ...names.slice(0, 14).map((name) => `| ${name} | ${profiles.map((p) => (percent(p, name) === undefined ? '' : `${percent(p, name)}%`)).join(' | ')} |`),
    '',
  ];
  for (const p of profiles) {
    lines.push(`Top functions, ${p.label}:`, '', '| function | self time |', '|---|---:|', ...p.functions.slice(0, 12).map((f) => `| \`${f.name}\` | ${f.percent}% |`), '');
  }
  return lines;
}

function profileSection(r: Results, root: string): string[] {
  const notes = path.join(root, 'bench/PROFILE.md');
  const text = existsSync(notes) ? fillTemplate(readFileSync(notes, 'utf8').trim(), templateValues(r)) : '';
  if (!text && !r.profiles?.length) return [];
  return ['## Profile of the warm path', '', ...(text ? [text, ''] : []), ...profileTables(r.profiles ?? [])];
}

function placement(pinning: Pinning | undefined, cores: number): string {
  if (pinning?.pinned) {
    return `Pinned with \`taskset\`: every server (each its own process) on CPU ${pinning.serverCpu}, the load generator (autocannon, in the bench process) on CPU ${pinning.loadCpu}; PostgreSQL and Redis are not pinned.`;
  }
  return `Not pinned${pinning ? ` (${pinning.reason})` : ''}: the load generator (autocannon, in the bench process), the servers (each its own process) and PostgreSQL/Redis share these ${cores} cores.`;
}

export function renderMarkdown(r: Results, root: string): string {
  const m = r.machine;
  const cerbos = r.cerbos === null ? 'not run' : 'version' in r.cerbos ? r.cerbos.version : `not available (${r.cerbos.reason})`;
  const s = r.settings;
  return [
    '# Castellan benchmark results',
    '',
    `Written by \`${r.commandLine}\` on ${r.finishedAt.slice(0, 10)} (${Math.round(r.totalSeconds)} s${r.quick ? ', **quick run**: short, for a smoke test, not for comparison' : ''}). Every number below comes from that run; rerun the command to reproduce. Raw numbers: \`results.json\` next to this file.`,
    '',
    '## Machine',
    '',
    '| cores | CPU | memory | Node | OS | PostgreSQL | Redis | autocannon | Cerbos |',
    '|---:|---|---:|---|---|---|---|---|---|',
    `| ${m.cores} | ${m.cpuModel} | ${m.memoryGiB} GiB | ${m.node} | ${m.os} | ${m.postgres} | ${m.redis} | ${m.autocannon} | ${cerbos} |`,
    '',
    `${placement(r.pinning, m.cores)} Load average (1, 5, 15 min) at the start: ${r.loadAverage.start.map((v) => v.toFixed(2)).join(', ')}; at the end: ${r.loadAverage.end.map((v) => v.toFixed(2)).join(', ')}${Math.max(...r.loadAverage.start, ...r.loadAverage.end) > m.cores ? ' (**other work was running**: requests/s are depressed and noisy; compare the interleaved ratios and the server CPU per request)' : ''}.`,
    '',
    '## Settings and dataset',
    '',
    `Dataset ${s.dataset ?? '100k'}: ${s.users.toLocaleString('en-US')} users in ${s.companies} companies, plus a company of cold principals, one for invalidation and one for subject search, written in ${r.dataset.seconds.toFixed(1)} s (database recreated, migrations applied, ${s.dataset ? 'rows written with COPY, indexes built, `vacuum analyze`' : 'rows inserted, `analyze`'}): ${Object.entries(r.dataset.rows)
      .map(([table, n]) => `${table} ${n.toLocaleString('en-US')}`)
      .join(', ')}.`,
    '',
    `Loads: ${s.principals.toLocaleString('en-US')} distinct principals, ${s.connections} connections, ${s.rounds} interleaved rounds of ${s.duration} s per target after a 1 s unrecorded warm-up; seed ${s.seed}. Bodies that did not answer 200 while warming the caches: ${r.prewarmFailures}.`,
    '',
    ...throughputSection(r),
    ...ratioSection(r),
    ...coldSection(r.scenarios.cold, r.scenarios.coldFloor),
    ...coldPairSection(r.scenarios.coldBaseline),
    ...searchSection(r.scenarios.search),
    ...invalidationSection(r.scenarios.invalidation),
    ...memorySection(r.scenarios.memory),
    ...scaleSection(root),
    ...baselineSection(r),
    ...clientSection(r.scenarios.client),
    ...outboxSection(r.scenarios.outbox),
    ...profileSection(r, root),
    '## How to read these numbers',
    '',
    '- The warm-check load cycles through its principals with four kinds of question (view Scenario in a granted or random project, view Project, edit CompanySettings branding, edit Scenario). Entries are re-validated against PostgreSQL after `CACHE_MAX_STALENESS_MS` (5 s, the default), so a long warm run includes those re-validations, as production would.',
    '- The limit server reads and parses the same bodies as the warm check and answers a constant of the same size.',
    '- The calibration is the same server spinning a fixed few microseconds of CPU per request. On two cores shared by server and load generator, throughput falls faster than that CPU alone explains: once the server is the slower side, the load generator sleeps between answers and every write pays to wake it. It shows what "close to the limit" can mean here for a service that does any work per request.',
    '- autocannon\'s `overallRate` is enforced per connection per second (each connection sends its share as fast as answers come, then waits for the next second), so "half the peak" is bursts at full speed with pauses, not an evenly spaced stream: a pessimistic reading of p99 at that rate.',
    r.pinning?.pinned
      ? '- Every server has one core, Cerbos included: a Go binary, it would spread over more cores if it had them, where a Castellan instance runs its JavaScript on one thread. Server CPU per request is the measure that does not depend on the core count.'
      : '- Cerbos is a Go binary and may use every core (GOMAXPROCS defaults to the core count); a Castellan instance runs its JavaScript on one thread.',
    '- Peer: Castellan reads the grants from its own store; Cerbos keeps no data, so each request carries the principal\'s granted project ids as the attribute `projects` (policy in `bench/cerbos/policies/`).',
    '',
  ].join('\n');
}
