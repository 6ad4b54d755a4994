import os from 'node:os';
import { z } from 'zod';
import { spectrum, summarise } from './histogram.js';
import type { PhaseRecorder } from './recorder.js';

/**
 * The result of a run, as `--json` prints it and the HTML report is drawn from: one schema,
 * so machines and people read the same numbers. Latencies are milliseconds; a latency that
 * has no value (nothing answered) is null.
 */

const ms = z.number().nullable();
export const latencySchema = z.object({ p50: ms, p90: ms, p99: ms, 'p99.9': ms, max: ms, mean: ms });
const counts = z.record(z.string(), z.number().int());

export const phaseSchema = z.object({
  /** Open model: the rate asked for; closed model: null. */
  targetRate: z.number().nullable(),
  durationS: z.number().describe('the time asked for, or from the first send to the last answer when that was longer (or the run was interrupted)'),
  sent: z.number().int(),
  responses: z.number().int().describe('answers of any status'),
  errors: z.number().int().describe('requests without a decision: unexpected status, timeout, connection error, dropped'),
  unanswered: z.number().int().describe('errors without an answer: timeouts, connection errors, dropped'),
  dropped: z.number().int(),
  rate: z.number().describe('answers per second achieved'),
  sustainedRate: z.number().describe("the median second's answers: what a ramp compares with its target (a slow drain after the end does not count against it)"),
  latencyMs: latencySchema,
  statuses: counts,
  errorKinds: counts,
  decisions: z.object({ allowed: z.number().int(), denied: z.number().int(), checked: z.number().int().describe('decisions with an expected value'), wrong: z.number().int() }),
  versions: counts.describe('policy version of each answer, as answered'),
  sendLagMs: z.object({ p50: ms, p99: ms, max: ms }).nullable().describe("open model: how late the generator dispatched requests after their slots (its own delay, not the server's)"),
  spectrum: z.array(z.tuple([z.number(), z.number()])).describe('[percentile, ms] pairs, for the distribution chart'),
});
export type PhaseSummary = z.infer<typeof phaseSchema>;

export const stepSchema = phaseSchema.extend({
  within: z.boolean(),
  keptUp: z.boolean(),
  bound: z.array(z.object({ expression: z.string(), ok: z.boolean(), shown: z.string() })),
});
export type StepSummary = z.infer<typeof stepSchema>;

export const thresholdResultSchema = z.object({
  expression: z.string(),
  ok: z.boolean(),
  actual: z.number().nullable(),
  shown: z.string(),
  implicit: z.boolean().describe('added by the tool (wrong==0 when the workload has expected decisions), not by --threshold'),
});

export const reportSchema = z.object({
  tool: z.literal('castellan-loadtest'),
  startedAt: z.string(),
  commandLine: z.string(),
  url: z.string(),
  target: z.string(),
  endpoint: z.string(),
  model: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('closed'), connections: z.number().int() }),
    z.object({ kind: z.literal('open'), rate: z.number(), maxConnections: z.number().int() }),
    z.object({ kind: z.literal('ramp'), from: z.number(), to: z.number(), steps: z.number().int(), maxConnections: z.number().int(), knee: z.array(z.string()) }),
  ]),
  durationS: z.number().describe('asked for (per step, in a ramp)'),
  workload: z.object({
    source: z.enum(['file', 'company', 'synthetic']),
    description: z.string(),
    cases: z.number().int(),
    requests: z.number().int().describe('distinct requests the load cycles through'),
    expectedAllowed: z.number().int(),
    expectedDenied: z.number().int(),
    skipped: z.number().int(),
    skippedWhy: z.string().nullable(),
  }),
  warmup: z.object({ requests: z.number().int(), errors: z.number().int(), seconds: z.number() }).nullable(),
  result: phaseSchema.describe("the run; for a ramp, the knee's step (the first step when none was within the bound)"),
  steps: z.array(stepSchema),
  knee: z.number().nullable().describe('ramp: the highest rate within the bound'),
  thresholds: z.array(thresholdResultSchema),
  passed: z.boolean(),
  interrupted: z.boolean(),
  timeline: z.array(z.object({ t: z.number(), responses: z.number().int(), errors: z.number().int(), p50: ms, p99: ms, max: ms, step: z.number().int() })),
  warnings: z.array(z.string()),
  machine: z.object({ hostname: z.string(), cpus: z.number().int(), cpuModel: z.string(), loadAverage: z.array(z.number()), node: z.string() }),
});
export type Report = z.infer<typeof reportSchema>;

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function summarisePhase(recorder: PhaseRecorder, targetRate: number | null): PhaseSummary {
  const measured = Number.isNaN(recorder.firstSend) || Number.isNaN(recorder.lastDone) ? 0 : (recorder.lastDone - recorder.firstSend) / 1000;
  // The rate is over the time asked for, or longer when the last answers came after it: the
  // open model's last slot is due 1/rate before the end, so the span alone would overstate it.
  const span = recorder.interrupted || measured === 0 ? measured : Math.max(measured, recorder.durationMs / 1000);
  const latency = summarise(recorder.latency);
  const lag = targetRate === null ? null : summarise(recorder.sendLag);
  const record = (map: ReadonlyMap<string | number, number>) => Object.fromEntries([...map].map(([k, v]) => [String(k), v]));
  return {
    targetRate,
    durationS: span,
    sent: recorder.sent,
    responses: recorder.responses,
    errors: recorder.errors,
    unanswered: recorder.unanswered,
    dropped: recorder.dropped,
    rate: span > 0 ? recorder.responses / span : 0,
    sustainedRate: median(recorder.timeline.map((p) => p.responses)),
    latencyMs: { p50: finite(latency.p50), p90: finite(latency.p90), p99: finite(latency.p99), 'p99.9': finite(latency['p99.9']), max: finite(latency.max), mean: finite(latency.mean) },
    statuses: record(recorder.statuses),
    errorKinds: record(recorder.errorKinds),
    decisions: { allowed: recorder.allowed, denied: recorder.denied, checked: recorder.checked, wrong: recorder.wrong },
    versions: record(recorder.versions),
    sendLagMs: lag && { p50: finite(lag.p50), p99: finite(lag.p99), max: finite(lag.max) },
    spectrum: spectrum(recorder.latency),
  };
}

export function machine(): Report['machine'] {
  const cpus = os.cpus();
  return { hostname: os.hostname(), cpus: cpus.length, cpuModel: cpus[0]?.model.trim() ?? 'unknown', loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100), node: process.version };
}

/** What thresholds read from a phase: latencies as numbers (NaN where none), counts of requests and decisions. */
export function thresholdSubject(phase: PhaseSummary, knee?: number | null) {
  const l = phase.latencyMs;
  const n = (v: number | null) => v ?? Number.NaN;
  return {
    latencyMs: { p50: n(l.p50), p90: n(l.p90), p99: n(l.p99), 'p99.9': n(l['p99.9']), max: n(l.max), mean: n(l.mean) },
    requests: phase.responses + phase.unanswered,
    errors: phase.errors,
    decisions: phase.decisions.allowed + phase.decisions.denied,
    wrong: phase.decisions.wrong,
    rate: phase.rate,
    ...(knee === undefined ? {} : { knee }),
  };
}
