import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseOptions, SCENARIOS, type BenchOptions } from './lib/args.js';
import { migrate, ROOT } from './lib/castellan.js';
import { ensureCerbos, startCerbos, type CerbosInstall } from './lib/cerbos.js';
import { COLD_WARMUP, DATASET_SHAPES, generateDataset } from './lib/dataset.js';
import { HttpClient } from './lib/http.js';
import { runLoad, type LoadSummary } from './lib/load.js';
import { deleteRedisKeys, describeMachine } from './lib/machine.js';
import { pinLoadGenerator } from './lib/pinning.js';
import { DATA_DIR, pinServersTo, startCastellan, startLimitServer, stopAll, type Proc } from './lib/processes.js';
import { monotonicUs, summariseProfile, type Window } from './lib/profile.js';
import { buildBaseline, type BaselineBuild } from './lib/baseline.js';
import { renderMarkdown, steadinessOf, type ProfileResult, type RatePair, type Results } from './lib/report.js';
import { authzenRequests, batchBodies, forwardAuthRequests, peerCases, samplePrincipals, signTokens, warmBodies } from './lib/workload.js';
import { coldPairScenario, coldScenario } from './scenarios/cold.js';
import { floorScenario } from './scenarios/floor.js';
import type { BenchContext } from './scenarios/context.js';
import { invalidationScenario } from './scenarios/invalidation.js';
import { memoryScenario } from './scenarios/memory.js';
import { clientScenario } from './scenarios/client.js';
import { outboxScenario } from './scenarios/outbox.js';
import { searchScenario } from './scenarios/search.js';
import { batchLoad, cerbosSkipped, interleave, peerMismatches, prewarm, prewarmRequests, rateLoads, type Target } from './scenarios/throughput.js';

const BATCH_SIZE = 100;
/**
 * The calibration's work per request: the order of what validation, an L1 lookup and a
 * CASL decision take inside a busy server (about 2 µs in a tight loop, more between
 * node's own HTTP work).
 */
const LIMIT_WORK_MICROS = 5;
const BATCH_PRINCIPALS = 200;

function createLogger() {
  const started = performance.now();
  return (message: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);
}

/** The loads of the main phase, built once from the dataset so every target sees the same principals. */
async function workloads(ctx: BenchContext) {
  const { options, dataset } = ctx;
  const warmPrincipals = samplePrincipals(dataset.regular, options.principals, options.seed + 1);
  const peerPrincipals = samplePrincipals(dataset.regular, options.principals, options.seed + 3, (p) => p.role === 'collaborator' && p.projects.length > 0);
  const tokens = options.only.has('forward-auth') ? await signTokens(warmPrincipals, ctx.env.jwtSecret) : new Map<string, string>();
  return {
    warm: warmBodies(warmPrincipals, options.seed + 2),
    // The same principals, questions and seed as the warm check: the rows compare like with like.
    forwardAuth: options.only.has('forward-auth') ? forwardAuthRequests(warmPrincipals, options.seed + 2, tokens) : [],
    authzen: authzenRequests(warmPrincipals, options.seed + 2),
    peer: peerCases(peerPrincipals, options.seed + 4),
    batch: batchBodies(warmPrincipals.slice(0, BATCH_PRINCIPALS), BATCH_SIZE, options.seed + 5),
  };
}

/** Forward-auth answers a deny with 403, where the check answers 200: both are answers. */
const FORWARD_AUTH_ANSWERS = [200, 403];

async function startPeer(ctx: BenchContext, results: Results): Promise<{ proc: Proc | null; install: CerbosInstall | null }> {
  if (!ctx.options.only.has('peer') || !ctx.options.peer) return { proc: null, install: null };
  ctx.log(`installing or finding Cerbos in bench/.peers`);
  const install = await ensureCerbos();
  if (!install.ok) {
    ctx.log(`  Cerbos not available: ${install.reason}`);
    results.cerbos = { status: 'skipped', reason: install.reason };
    return { proc: null, install };
  }
  results.cerbos = { version: install.version };
  try {
    return { proc: await startCerbos(install.binary), install };
  } catch (error) {
    const failed: CerbosInstall = { ok: false, reason: `Cerbos did not start: ${(error as Error).message}` };
    results.cerbos = { status: 'skipped', reason: failed.reason };
    return { proc: null, install: failed };
  }
}

/**
 * The pair of --baseline: the "before" build and a second instance of this build, both
 * fresh and warmed with the same bodies, so neither carries the other loads' principals
 * (a larger L1 and heap cost a little per request). Null when not asked or the baseline
 * did not build (then recorded as skipped).
 */
async function startBaseline(ctx: BenchContext, results: Results): Promise<{ before: Proc; after: Proc; build: BaselineBuild & { ok: true } } | null> {
  const ref = ctx.options.baseline;
  if (!ref) return null;
  ctx.log(`building the baseline: hot-path files at ${ref}`);
  const build = await buildBaseline(ref);
  if (!build.ok) {
    ctx.log(`  ${build.reason}`);
    results.scenarios.baseline = { status: 'skipped', reason: build.reason };
    return null;
  }
  if (build.kind === 'whole') ctx.log(`  its hot-path files do not build against this tree's wiring (${build.note?.slice(0, 120)}…): built the whole tree at ${ref} instead`);
  const before = await startCastellan('castellan-baseline', ctx.env, { entry: build.entry, ...(build.env ? { extraEnv: build.env } : {}) });
  return { before, after: await startCastellan('castellan-after', ctx.env), build };
}

const single = (url: string, bodies: readonly string[], connections: number, pid: number) => ({ url: `${url}/v1/check`, bodies, connections, durationS: 0, serverPid: pid });

/** Limit, warm, peer (interleaved), then batch, the fixed-rate run and cold compiles, on one main instance. */
async function mainPhase(ctx: BenchContext, results: Results): Promise<void> {
  const { only, connections } = ctx.options;
  const wantsMain = (['warm', 'forward-auth', 'authzen', 'batch', 'rate', 'cold', 'peer'] as const).some((s) => only.has(s));
  // Forward-auth and AuthZEN are read beside the warm check: it runs with them.
  const wantsWarm = (['warm', 'rate', 'forward-auth', 'authzen'] as const).some((s) => only.has(s));
  const wantsPair = only.has('warm') || only.has('rate');
  const main = wantsMain ? await startCastellan('castellan-main', ctx.env) : null;
  const limit = only.has('limit') ? await startLimitServer() : null;
  const limitWork = only.has('limit') ? await startLimitServer(LIMIT_WORK_MICROS) : null;
  const peer = await startPeer(ctx, results);
  const baseline = main && (only.has('warm') || only.has('rate') || only.has('cold')) ? await startBaseline(ctx, results) : null;
  try {
    const loads = await workloads(ctx);
    const targets: Target[] = [];
    if (limit) targets.push({ key: 'limit', spec: single(limit.url, loads.warm, connections, limit.pid) });
    if (limitWork) targets.push({ key: 'limitWork', spec: single(limitWork.url, loads.warm, connections, limitWork.pid) });
    const warm: Target | null = main ? { key: 'warm', spec: single(main.url, loads.warm, connections, main.pid) } : null;
    const before: Target | null = baseline ? { key: 'warmBaseline', spec: single(baseline.before.url, loads.warm, connections, baseline.before.pid) } : null;
    const after: Target | null = baseline ? { key: 'warmAfter', spec: single(baseline.after.url, loads.warm, connections, baseline.after.pid) } : null;
    if (warm && wantsWarm) targets.push(warm);
    if (main && only.has('forward-auth')) {
      targets.push({ key: 'forwardAuth', spec: { ...single(main.url, [], connections, main.pid), url: main.url, requests: loads.forwardAuth, okStatuses: FORWARD_AUTH_ANSWERS } });
    }
    if (main && only.has('authzen')) targets.push({ key: 'authzen', spec: { ...single(main.url, [], connections, main.pid), url: main.url, requests: loads.authzen } });
    if (before && after && wantsPair) targets.push(after, before);
    if (main && peer.proc) {
      targets.push({ key: 'peerCastellan', spec: single(main.url, loads.peer.map((c) => c.castellan), connections, main.pid) });
      targets.push({ key: 'peerCerbos', spec: { url: `${peer.proc.url}/api/check/resources`, bodies: loads.peer.map((c) => c.cerbos), connections, durationS: 0, serverPid: peer.proc.pid } });
    }
    if (main) {
      // Only what the selected loads will ask: each body is a cold compile the first time.
      const singles = [...(wantsWarm ? loads.warm : loads.warm.slice(0, 200)), ...(peer.proc ? loads.peer.map((c) => c.castellan) : [])];
      ctx.log(`warming L1 of the main instance (${singles.length} principals)`);
      results.prewarmFailures = await prewarm(ctx, `${main.url}/v1/check`, singles);
      if (only.has('batch')) results.prewarmFailures += await prewarm(ctx, `${main.url}/v1/check/batch`, loads.batch);
      if (only.has('forward-auth')) results.prewarmFailures += await prewarmRequests(ctx, main.url, loads.forwardAuth, FORWARD_AUTH_ANSWERS);
      if (only.has('authzen')) results.prewarmFailures += await prewarmRequests(ctx, main.url, loads.authzen, [200]);
      for (const proc of baseline && wantsPair ? [baseline.before, baseline.after] : []) results.prewarmFailures += await prewarm(ctx, `${proc.url}/v1/check`, loads.warm);
    }
    const mismatches = main && peer.proc ? await peerMismatches(ctx, main.url, peer.proc.url, loads.peer) : null;

    ctx.log(`throughput: ${targets.map((t) => t.key).join(', ')} interleaved`);
    const summaries = targets.length ? await interleave(ctx, targets) : new Map<Target['key'], LoadSummary>();
    const s = results.scenarios;
    if (summaries.has('limit')) s.limit = summaries.get('limit')!;
    if (summaries.has('limitWork')) s.limitWork = { ...summaries.get('limitWork')!, workMicros: LIMIT_WORK_MICROS };
    if ((['warm', 'forward-auth', 'authzen'] as const).some((name) => only.has(name)) && summaries.has('warm')) s.warm = summaries.get('warm')!;
    if (summaries.has('forwardAuth')) s.forwardAuth = summaries.get('forwardAuth')!;
    if (summaries.has('authzen')) s.authzen = summaries.get('authzen')!;
    const cerbos = summaries.get('peerCerbos');
    if (cerbos && mismatches && peer.install?.ok) {
      s.peer = { status: 'ok', cerbosVersion: peer.install.version, cerbos, castellan: summaries.get('peerCastellan')!, decisionMismatches: mismatches, cases: loads.peer.length };
    } else if (only.has('peer')) {
      s.peer = cerbosSkipped(peer.install, ctx.options.peer) ?? { status: 'skipped', reason: 'Cerbos did not run' };
    }
    if (main && only.has('batch')) {
      ctx.log('batch');
      s.batch = await batchLoad(ctx, main, loads.batch, BATCH_SIZE);
    }
    let rates = new Map<Target['key'], RatePair>();
    if (warm && only.has('rate')) {
      const peak = summaries.get('warm')!.requestsPerSecond;
      // With --baseline, the before/after pair takes the fixed rate (the after instance's is this build's figure).
      ctx.log(`fixed rate: ${Math.round(peak / 2)} req/s (half of ${Math.round(peak)})${before ? ', this build and the baseline alternating' : ''}`);
      rates = await rateLoads(ctx, before && after ? [after, before] : [warm], peak);
      s.rate = rates.get(after ? 'warmAfter' : 'warm')!;
    }
    if (baseline && summaries.has('warmBaseline') && summaries.has('warmAfter')) {
      const { ref, commit, kind } = baseline.build;
      s.baseline = {
        status: 'ok',
        ref,
        commit,
        kind,
        warm: summaries.get('warmBaseline')!,
        rate: rates.get('warmBaseline') ?? null,
        after: { warm: summaries.get('warmAfter')!, rate: rates.get('warmAfter') ?? null },
      };
    }
    if (main && only.has('cold')) {
      // With a baseline, half of each group's principals go to the before/after pair: never seen by either.
      // Each instance gets its own third of the warm-up principals: a principal another instance loaded is in L2.
      const split = ctx.dataset.cold.map((g) => {
        const half = baseline ? Math.ceil(g.principals.length / 2) : g.principals.length;
        const w = COLD_WARMUP(g.grants);
        return { main: { ...g, principals: g.principals.slice(0, half), warmup: g.warmup.slice(0, w) }, pair: { ...g, principals: g.principals.slice(half), warmup: g.warmup.slice(w) } };
      });
      ctx.log('cold compiles');
      s.coldFloor = await floorScenario(ctx, main);
      s.cold = await coldScenario(ctx, main, split.map((g) => g.main));
      if (baseline) {
        ctx.log(`cold compiles, the baseline (${baseline.build.ref}) and this build interleaved`);
        s.coldBaseline = { ref: baseline.build.ref, commit: baseline.build.commit, kind: baseline.build.kind, rows: await coldPairScenario(ctx, baseline.before, baseline.after, split.map((g) => g.pair)) };
      }
    }
  } finally {
    await Promise.all([main?.stop(), limit?.stop(), limitWork?.stop(), peer.proc?.stop(), baseline?.before.stop(), baseline?.after.stop()]);
  }
}

/** One instance of a build under `node --cpu-prof`, warm load only; the summary keeps only the samples taken under load. */
async function profileOne(ctx: BenchContext, label: string, entry: string | undefined, extraEnv?: Record<string, string>): Promise<ProfileResult> {
  const dir = path.join(DATA_DIR, 'profiles');
  mkdirSync(dir, { recursive: true });
  const name = `warm-${label}-${Date.now()}.cpuprofile`;
  const proc = await startCastellan(`castellan-profile-${label}`, ctx.env, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`], ...(entry ? { entry } : {}), ...(extraEnv ? { extraEnv } : {}) });
  let requestsPerSecond = 0;
  let cpuMicrosPerRequest: number | null = null;
  let window: Window | null = null;
  try {
    const bodies = (await workloads(ctx)).warm;
    await prewarm(ctx, `${proc.url}/v1/check`, bodies);
    const spec = { ...single(proc.url, bodies, ctx.options.connections, proc.pid), durationS: ctx.options.duration * ctx.options.rounds };
    const startUs = monotonicUs();
    const run = await runLoad(spec);
    window = { startUs, endUs: monotonicUs() };
    requestsPerSecond = run.ok / run.durationS;
    cpuMicrosPerRequest = run.serverCpuS === null ? null : (run.serverCpuS / Math.max(1, run.ok)) * 1e6;
  } finally {
    await proc.stop();
  }
  const file = readdirSync(dir).includes(name) ? path.join(dir, name) : null;
  if (!file) throw new Error(`no profile written in ${dir}; see ${proc.logFile}`);
  // Start-up and the cold compiles of the warming are left out.
  const summary = summariseProfile(file, window);
  ctx.log(`profile (${label}) in ${path.relative(ROOT, file)}: idle ${summary.idlePercent}%; top self time of the busy samples:`);
  for (const f of summary.functions.slice(0, 10)) ctx.log(`  ${f.percent.toFixed(1).padStart(5)}%  ${f.name}`);
  return { ...summary, label, file: path.relative(ROOT, file), requestsPerSecond, cpuMicrosPerRequest, window };
}

/** `--profile`: this build, and with --baseline the baseline too, each profiled under the same warm load. */
async function profilePhase(ctx: BenchContext): Promise<ProfileResult[]> {
  const profiles = [await profileOne(ctx, 'this-build', undefined)];
  if (ctx.options.baseline) {
    const build = await buildBaseline(ctx.options.baseline);
    if (build.ok) profiles.unshift(await profileOne(ctx, `baseline-${ctx.options.baseline}`, build.entry, build.env));
  }
  return profiles;
}

function ratios(r: Results): Results['ratios'] {
  const { limit, limitWork, warm, peer } = r.scenarios;
  const cerbos = peer?.status === 'ok' ? peer.cerbos.requestsPerSecond : null;
  const cpuRatio = (a: LoadSummary | undefined, b: LoadSummary | undefined) =>
    a?.serverCpuMicrosPerRequest && b?.serverCpuMicrosPerRequest ? a.serverCpuMicrosPerRequest / b.serverCpuMicrosPerRequest : null;
  return {
    warmOverLimit: warm && limit ? warm.requestsPerSecond / limit.requestsPerSecond : null,
    limitWorkOverLimit: limitWork && limit ? limitWork.requestsPerSecond / limit.requestsPerSecond : null,
    warmOverCerbos: warm && cerbos ? warm.requestsPerSecond / cerbos : null,
    forwardAuthOverWarm: warm && r.scenarios.forwardAuth ? r.scenarios.forwardAuth.requestsPerSecond / warm.requestsPerSecond : null,
    authzenOverWarm: warm && r.scenarios.authzen ? r.scenarios.authzen.requestsPerSecond / warm.requestsPerSecond : null,
    peerCastellanOverCerbos: peer?.status === 'ok' && cerbos ? peer.castellan.requestsPerSecond / cerbos : null,
    limitCpuOverWarmCpu: cpuRatio(limit, warm),
    cerbosCpuOverCastellanCpu: peer?.status === 'ok' ? cpuRatio(peer.cerbos, peer.castellan) : null,
  };
}

/** A complete default run is the one committed (bench/RESULTS.md); quick and partial runs go to the ignored bench/.data. */
function outputDir(options: BenchOptions): string {
  const complete = !options.quick && options.only.size === SCENARIOS.length;
  return complete ? path.join(ROOT, 'bench') : DATA_DIR;
}

/**
 * RESULTS.md rendered, with the part other tools write there (npm run chaos, npm run soak,
 * between the kept markers) carried over from the file it replaces.
 */
function withKeptPart(target: string, rendered: string): string {
  const previous = existsSync(target) ? readFileSync(target, 'utf8') : '';
  const from = previous.indexOf('<!-- kept:begin -->');
  const to = previous.indexOf('<!-- kept:end -->');
  return from >= 0 && to > from ? `${rendered.trimEnd()}\n\n${previous.slice(from, to)}<!-- kept:end -->\n` : rendered;
}

/** `--render`: the same numbers, RESULTS.md written again (e.g. after bench/PROFILE.md changed). */
function rerender(file: string): void {
  const results = JSON.parse(readFileSync(file, 'utf8')) as Results;
  const target = path.join(path.dirname(file), 'RESULTS.md');
  writeFileSync(target, withKeptPart(target, renderMarkdown(results, ROOT)));
  console.log(`rendered ${path.relative(ROOT, target)} from ${path.relative(ROOT, file)}`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.render) return rerender(path.resolve(options.render));
  const log = createLogger();
  const startedAt = new Date();
  const runId = randomBytes(4).toString('hex');
  log(`castellan bench ${options.quick ? '(quick) ' : ''}run ${runId}: ${[...options.only].join(', ')}`);
  const machine = await describeMachine(options.pgAdminUrl, options.redisUrl);
  log(`${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}`);
  const pinning = pinLoadGenerator(options.pin);
  pinServersTo(pinning.pinned ? pinning.serverCpu : null);
  log(pinning.pinned ? `pinned: servers on CPU ${pinning.serverCpu}, the load generator on CPU ${pinning.loadCpu}` : `not pinned: ${pinning.reason}`);

  log(`dataset (${options.dataset}): ${options.users} users in ${options.companies} companies into database ${options.database}`);
  const { dataset, databaseUrl } = await generateDataset({
    shape: DATASET_SHAPES[options.dataset],
    adminUrl: options.pgAdminUrl,
    database: options.database,
    users: options.users,
    companies: options.companies,
    coldPrincipals: options.coldPrincipals,
    coldLarge: options.coldLarge,
    seed: options.seed,
    root: ROOT,
    migrate,
  });
  log(`  written in ${dataset.seconds.toFixed(1)} s: ${Object.entries(dataset.rows).map(([t, n]) => `${t} ${n}`).join(', ')}`);

  const http = new HttpClient();
  const env = { databaseUrl, redisUrl: options.redisUrl, redisKeyPrefix: `castellan-bench:${runId}:`, jwtSecret: randomBytes(32).toString('hex'), cacheMaxEntries: 200_000 };
  const ctx: BenchContext = { options, dataset, env, http, log };
  const { memorySteps, only, ...rest } = options;
  const results: Results = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    totalSeconds: 0,
    commandLine: options.commandLine,
    quick: options.quick,
    settings: { ...pick(rest), memorySteps },
    machine,
    pinning,
    loadAverage: { start: os.loadavg(), end: [] },
    cerbos: null,
    dataset: { seconds: dataset.seconds, rows: dataset.rows },
    prewarmFailures: 0,
    scenarios: {},
    ratios: {
      warmOverLimit: null,
      limitWorkOverLimit: null,
      warmOverCerbos: null,
      forwardAuthOverWarm: null,
      authzenOverWarm: null,
      peerCastellanOverCerbos: null,
      limitCpuOverWarmCpu: null,
      cerbosCpuOverCastellanCpu: null,
    },
  };
  try {
    await mainPhase(ctx, results);
    if (only.has('search')) {
      log(`AuthZEN subject search: ${ctx.dataset.search.members.toLocaleString('en-US')} members on one project, paged through`);
      results.scenarios.search = await searchScenario(ctx);
    }
    if (only.has('invalidation')) {
      log(`invalidation: ${options.writes} writes across two instances`);
      results.scenarios.invalidation = await invalidationScenario(ctx);
      if (results.scenarios.invalidation.status === 'skipped') log(`  skipped: ${results.scenarios.invalidation.reason}`);
    }
    if (only.has('memory')) {
      log(`memory: ${memorySteps.join(', ')} principals in L1`);
      results.scenarios.memory = await memoryScenario(ctx);
    }
    if (only.has('client')) {
      log('client: @castellan/client against one instance');
      results.scenarios.client = await clientScenario(ctx);
    }
    if (only.has('outbox')) {
      log('webhook outbox: claims against growing backlogs');
      results.scenarios.outbox = await outboxScenario(ctx);
    }
    if (options.profile) {
      log('profile of the warm path');
      results.profiles = await profilePhase(ctx);
    }
  } finally {
    await stopAll();
    http.close();
    const deleted = await deleteRedisKeys(options.redisUrl, env.redisKeyPrefix).catch(() => 0);
    log(`stopped every process; removed ${deleted} Redis keys of this run`);
  }
  results.ratios = ratios(results);
  results.loadAverage.end = os.loadavg();
  results.finishedAt = new Date().toISOString();
  results.totalSeconds = (Date.now() - startedAt.getTime()) / 1000;
  const dir = outputDir(options);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(dir, 'RESULTS.md'), withKeptPart(path.join(dir, 'RESULTS.md'), renderMarkdown(results, ROOT)));
  log(`wrote ${path.relative(ROOT, path.join(dir, 'RESULTS.md'))} and results.json in ${Math.round(results.totalSeconds)} s`);
  printSummary(results, log);
}

function pick(o: Omit<BenchOptions, 'memorySteps' | 'only'>): Omit<Results['settings'], 'memorySteps'> {
  const { dataset, users, companies, principals, duration, rounds, connections, writes, coldPrincipals, coldLarge, seed } = o;
  return { dataset, users, companies, principals, duration, rounds, connections, writes, coldPrincipals, coldLarge, seed };
}

function printSummary(r: Results, log: (m: string) => void): void {
  const line = (name: string, s: LoadSummary | undefined) =>
    s &&
    log(
      `${name.padEnd(16)} ${Math.round(s.requestsPerSecond).toString().padStart(7)} req/s  p50 ${s.p50.toFixed(3)}  p99 ${s.p99.toFixed(3)}  p99.9 ${s.p999.toFixed(3)} ms  CPU ${s.serverCpuMicrosPerRequest?.toFixed(0) ?? 'n/a'} µs/req  non-2xx ${s.non2xx}  errors ${s.errors}`,
    );
  line('limit', r.scenarios.limit);
  line('warm', r.scenarios.warm);
  line('forward-auth', r.scenarios.forwardAuth);
  line('authzen eval.', r.scenarios.authzen);
  line('rate, one inst.', r.scenarios.rate?.bursty);
  line('rate, staggered', r.scenarios.rate?.staggered);
  line('batch', r.scenarios.batch);
  if (r.scenarios.peer?.status === 'ok') {
    line('peer castellan', r.scenarios.peer.castellan);
    line('peer cerbos', r.scenarios.peer.cerbos);
  }
  const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));
  const steadiness = steadinessOf(r.scenarios.limit);
  if (steadiness) log(steadiness.text.replace(/\*\*/g, ''));
  log(`warm/limit ${fmt(r.ratios.warmOverLimit)}  warm/cerbos ${fmt(r.ratios.warmOverCerbos)}  castellan/cerbos (same question) ${fmt(r.ratios.peerCastellanOverCerbos)}`);
}

process.once('SIGINT', () => {
  void stopAll().finally(() => process.exit(130));
});

main().catch(async (error: unknown) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
