import { writeFileSync } from 'node:fs';
import { defaultPoliciesDir, loadPolicies } from '../policy/catalog.js';
import { ApiClient } from './api.js';
import { readWorkloadFile, WorkloadError, type Case } from './cases.js';
import { sampleCompany, type CompanySample, type TokenSource } from './company.js';
import { LoadEngine, type PreparedRequest, type Progress } from './engine.js';
import { renderHtml } from './html.js';
import type { Options } from './options.js';
import { judgeStep, kneeOf, rampRates } from './ramp.js';
import { machine, summarisePhase, thresholdSubject, type PhaseSummary, type Report, type StepSummary } from './report.js';
import { createSyntheticCompany, signedTokens, type SyntheticCompany } from './synthetic.js';
import { prepareTarget } from './targets.js';
import { finalText, int, plural, progressLine } from './text.js';
import { evaluateThreshold, formatMs, parseThreshold } from './thresholds.js';

/** Something about the target or the workload that stops the run before any load (exit 2). */
export class SetupError extends Error {}

export interface RunIo {
  /** Setup and progress lines (stderr). */
  log(line: string): void;
  /** Rewrites the live progress line when the output is a terminal; null: plain lines. */
  live: ((line: string) => void) | null;
  /** Ends the load early, keeping what was measured. */
  signal: AbortSignal;
}

/** At most this many distinct requests are sent in the warm-up, for at most WARMUP_LIMIT_MS. */
const WARMUP_REQUESTS = 20_000;
const WARMUP_LIMIT_MS = 30_000;

interface Workload {
  cases: Case[];
  description: string;
  cleanup: (() => Promise<void>) | null;
  warnings: string[];
}

async function buildWorkload(options: Options, api: ApiClient, policies: ReturnType<typeof loadPolicies>, io: RunIo): Promise<Workload> {
  const groupSize = options.endpoint === 'batch' ? options.batchSize : 1;
  const forwardAuth = options.endpoint === 'forward-auth';
  const sampleFrom = async (company: string, adminToken: string, tokens: TokenSource | null): Promise<CompanySample> =>
    sampleCompany(api, {
      company,
      adminToken,
      sample: options.sample,
      allowedRatio: options.allowedRatio,
      groupSize,
      seed: options.seed,
      catalog: policies.catalog,
      routes: forwardAuth ? policies.routes : null,
      tokens: forwardAuth ? tokens : null,
      log: io.log,
    });
  const describeSample = (s: CompanySample['summary']) =>
    `${plural(s.allowed + s.denied, 'question')} (${int(s.allowed)} allowed, ${int(s.denied)} denied when sampled) from ${int(s.principals)} of ${plural(s.activeMembers, 'active member')}, ${plural(s.registeredProjects, 'registered project')}`;
  const w = options.workload;
  if (w.source === 'file') {
    const cases = readWorkloadFile(w.file, policies.catalog);
    const expected = cases.filter((c) => c.expect !== null).length;
    return { cases, description: `file ${w.file}: ${plural(cases.length, 'check')}${expected ? `, ${expected.toLocaleString('en-US')} with an expected decision` : ''}`, cleanup: null, warnings: [] };
  }
  if (w.source === 'company') {
    if (forwardAuth && !options.signer) throw new SetupError("--endpoint forward-auth with --company needs the users' tokens: --jwt-secret (a deployment with AUTH_JWT_SECRET), or a --workload file whose lines carry \"token\"");
    const sample = await sampleFrom(w.company, options.adminToken!, options.signer ? signedTokens(options.signer) : null);
    return { cases: sample.cases, description: `company ${w.company}: ${describeSample(sample.summary)}`, cleanup: null, warnings: sample.summary.shortfall ? [sample.summary.shortfall] : [] };
  }
  const company: SyntheticCompany = await createSyntheticCompany(api, w.spec, { ownerToken: options.adminToken, signer: options.signer, projectRoles: policies.projectRoles, log: io.log });
  const cleanup = w.keep
    ? async () => io.log(`synthetic company ${company.id} kept (--keep): load it again with --company ${company.id}, delete it with DELETE /v1/companies/${company.id}`)
    : async () => {
        await company.remove();
        io.log(`synthetic company ${company.id} removed`);
      };
  try {
    const sample = await sampleFrom(company.id, company.ownerToken, company.tokens);
    const made = `synthetic company ${company.id} (${plural(company.users, 'user')}, ${plural(company.projects, 'project')}, ${plural(company.teams, 'team')}; ${plural(company.writes, 'admin write')} in ${company.seconds.toFixed(1)} s${w.keep ? ', kept' : ', removed after the run'})`;
    return { cases: sample.cases, description: `${made}: ${describeSample(sample.summary)}`, cleanup, warnings: sample.summary.shortfall ? [sample.summary.shortfall] : [] };
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
}

/** Distinct requests, in workload order, for the warm-up. */
function distinct(requests: readonly PreparedRequest[]): PreparedRequest[] {
  const seen = new Set<string>();
  return requests.filter((r) => {
    const key = `${r.method} ${r.path} ${r.body ?? JSON.stringify(r.headers)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export async function run(options: Options, io: RunIo): Promise<Report> {
  const startedAt = new Date().toISOString();
  const policies = loadPolicies(options.policiesDir ?? defaultPoliciesDir());
  const api = new ApiClient({ url: options.url, checkToken: options.checkToken });
  try {
    const health = await fetch(new URL('/healthz', options.url), { signal: AbortSignal.timeout(10_000) });
    if (!health.ok) throw new SetupError(`${options.url}/healthz answered ${health.status}`);
  } catch (error) {
    if (error instanceof SetupError) throw error;
    throw new SetupError(`cannot reach ${options.url}: ${(error as Error).cause ? String((error as Error).cause) : (error as Error).message}`);
  }

  const workload = await buildWorkload(options, api, policies, io).catch((error: unknown) => {
    throw error instanceof WorkloadError || (error as { status?: number }).status !== undefined ? new SetupError((error as Error).message) : error;
  });
  try {
    const target = prepareTarget({ endpoint: options.endpoint, batchSize: options.batchSize, checkToken: options.checkToken, catalog: policies.catalog, routes: policies.routes }, workload.cases);
    if (target.requests.length === 0) throw new SetupError(`no request of ${target.label} can be made from this workload: ${target.skippedWhy ?? 'it is empty'}`);
    const warnings = [...workload.warnings];
    const model = options.model;
    const engine = new LoadEngine({ url: options.url, connections: model.connections, timeoutMs: options.timeoutMs, read: target.read });
    try {
      let warmup: Report['warmup'] = null;
      if (options.warmup) {
        const unique = distinct(target.requests).slice(0, WARMUP_REQUESTS);
        io.log(`warm-up: ${unique.length.toLocaleString('en-US')} distinct requests, unrecorded`);
        const started = performance.now();
        const w = await engine.warmup(unique, Math.min(model.connections, 32), WARMUP_LIMIT_MS);
        warmup = { requests: w.sent, errors: w.errors, seconds: (performance.now() - started) / 1000 };
        if (w.sent > 0 && w.errors === w.sent) throw new SetupError(`every warm-up request failed: ${[...w.errorKinds.keys()].join(', ')}`);
      }

      const clockZero = performance.now();
      const progress = (targetRate: number | null, step: string) => {
        let lastPlain = 0;
        return (p: Progress) => {
          const line = progressLine(p, { targetRate, durationS: options.durationMs / 1000, step });
          if (io.live) io.live(line);
          else if (p.elapsedS - lastPlain >= 4.5) {
            lastPlain = p.elapsedS;
            io.log(line);
          }
        };
      };
      const phaseOptions = { requests: target.requests, durationMs: options.durationMs, clockZero, signal: io.signal };
      const timeline: Report['timeline'] = [];
      let result: PhaseSummary;
      const steps: StepSummary[] = [];
      let knee: number | null = null;
      if (model.kind === 'closed') {
        const recorder = await engine.closed({ ...phaseOptions, connections: model.connections, onProgress: progress(null, '') });
        result = summarisePhase(recorder, null);
        timeline.push(...recorder.timeline);
      } else if (model.kind === 'open') {
        const recorder = await engine.open({ ...phaseOptions, rate: model.rate, maxInFlight: model.maxInFlight, onProgress: progress(model.rate, '') });
        result = summarisePhase(recorder, model.rate);
        timeline.push(...recorder.timeline);
      } else {
        const rates = rampRates(model.ramp);
        for (let i = 0; i < rates.length && !io.signal.aborted; i++) {
          const rate = rates[i]!;
          const recorder = await engine.open({ ...phaseOptions, rate, maxInFlight: model.maxInFlight, step: i, onProgress: progress(rate, `step ${i + 1}/${rates.length} `) });
          const phase = summarisePhase(recorder, rate);
          const verdict = judgeStep(model.knee, { ...thresholdSubject(phase), rate: phase.sustainedRate }, rate);
          steps.push({ ...phase, within: verdict.within, keptUp: verdict.keptUp, bound: verdict.outcomes.map((o) => ({ expression: o.expression, ok: o.ok, shown: o.shown })) });
          timeline.push(...recorder.timeline);
          io.log(`step ${i + 1}/${rates.length}: ${rate.toLocaleString('en-US')}/s target, ${Math.round(phase.rate).toLocaleString('en-US')}/s achieved, p99 ${formatMs(phase.latencyMs.p99 ?? Number.NaN)}: ${verdict.within ? 'within the bound' : verdict.keptUp ? 'beyond the bound' : 'the server fell behind'}`);
          // Past the knee every further step only loads a server already beyond its bound.
          if (!verdict.within) break;
        }
        knee = kneeOf(steps);
        const kneeStep = knee === null ? steps[0] : steps.find((s) => s.targetRate === knee);
        result = kneeStep!;
      }

      const expectations = workload.cases.some((c) => c.expect !== null);
      const thresholds = options.thresholds.map((t) => ({ threshold: t, implicit: false }));
      // A wrong answer is a correctness failure whatever the latency: checked unless the user set a bound on it.
      if (expectations && !options.thresholds.some((t) => t.metric === 'wrong')) thresholds.push({ threshold: parseThreshold('wrong==0'), implicit: true });
      const subject = thresholdSubject(result, model.kind === 'ramp' ? knee : undefined);
      const outcomes = thresholds.map(({ threshold, implicit }) => ({ ...evaluateThreshold(threshold, subject), implicit }));

      warnings.push(...runWarnings(result, model.kind === 'closed' ? null : (result.targetRate ?? null)));
      const report: Report = {
        tool: 'castellan-loadtest',
        startedAt,
        commandLine: options.commandLine,
        url: options.url,
        target: target.label,
        endpoint: options.endpoint,
        model:
          model.kind === 'closed'
            ? { kind: 'closed', connections: model.connections }
            : model.kind === 'open'
              ? { kind: 'open', rate: model.rate, maxConnections: model.connections }
              : { kind: 'ramp', from: model.ramp.from, to: model.ramp.to, steps: model.ramp.steps, maxConnections: model.connections, knee: model.knee.map((t) => t.expression) },
        durationS: options.durationMs / 1000,
        workload: {
          source: options.workload.source,
          description: workload.description,
          cases: workload.cases.length,
          requests: target.requests.length,
          expectedAllowed: workload.cases.filter((c) => c.expect === true).length,
          expectedDenied: workload.cases.filter((c) => c.expect === false).length,
          skipped: target.skipped,
          skippedWhy: target.skippedWhy,
        },
        warmup,
        result,
        steps,
        knee,
        thresholds: outcomes,
        passed: outcomes.every((o) => o.ok) && !io.signal.aborted,
        interrupted: io.signal.aborted,
        timeline,
        warnings,
        machine: machine(),
      };
      if (report.machine.loadAverage[0]! > report.machine.cpus) {
        report.warnings.push(`the load generator's machine was busy (load average ${report.machine.loadAverage[0]} on ${report.machine.cpus} cores): latencies include its own delays`);
      }
      return report;
    } finally {
      await engine.close();
    }
  } finally {
    if (workload.cleanup) await workload.cleanup();
  }
}

/** What a reader should know before trusting the numbers. */
function runWarnings(result: PhaseSummary, targetRate: number | null): string[] {
  const warnings: string[] = [];
  const answered = result.responses;
  if (answered > 0 && answered < 100) warnings.push(`only ${answered} answers: p90 and above are the maximum or close to it`);
  else if (answered > 0 && answered < 1000) warnings.push(`only ${answered} answers: p99.9 is the maximum`);
  if (targetRate !== null) {
    if (result.rate < 0.95 * targetRate) warnings.push(`the server did not keep up: ${Math.round(result.rate).toLocaleString('en-US')} answers/s of the ${targetRate.toLocaleString('en-US')}/s sent (requests queued, and their wait is in the latency)`);
    const lag = result.sendLagMs?.p99 ?? 0;
    if (lag > Math.max(2, 2000 / targetRate)) warnings.push(`the load generator fell behind its own schedule (send lag p99 ${formatMs(lag)}): this machine cannot send ${targetRate.toLocaleString('en-US')}/s evenly; the latencies exclude that lag`);
  }
  if (result.dropped > 0) warnings.push(`${result.dropped.toLocaleString('en-US')} requests were dropped: more than --max-in-flight were waiting or in flight`);
  return warnings;
}

/** Writes what the run produced: the table or JSON on stdout, the HTML report if asked. */
export function emit(report: Report, options: Options, out: (text: string) => void, log: (line: string) => void): void {
  if (options.report) {
    writeFileSync(options.report, renderHtml(report));
    log(`report written to ${options.report}`);
  }
  out(options.json ? JSON.stringify(report, null, 2) : finalText(report));
}
