/**
 * Pass/fail conditions for CI pipelines, written as k6 writes them: `p99<5ms`, `errors<0.1%`,
 * `rate>=4000`. Parsed once from the command line, evaluated on a run's summary. Pure.
 */

export const LATENCY_METRICS = ['p50', 'p90', 'p99', 'p99.9', 'max', 'mean'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];
const OPERATORS = ['<=', '>=', '==', '<', '>'] as const;
type Operator = (typeof OPERATORS)[number];

export type Threshold =
  | { expression: string; metric: LatencyMetric; op: Operator; /** milliseconds */ value: number }
  /** `share`: the value is a fraction of requests (errors) or decisions (wrong); else a count. */
  | { expression: string; metric: 'errors' | 'wrong'; op: Operator; value: number; share: boolean }
  /** Achieved requests/s; `knee`: the highest passing rate of a ramp. */
  | { expression: string; metric: 'rate' | 'knee'; op: Operator; value: number };

export class ThresholdSyntaxError extends Error {}

const UNIT_MS: Record<string, number> = { us: 0.001, µs: 0.001, ms: 1, s: 1000 };
const ALIASES: Record<string, string> = { 'p(50)': 'p50', 'p(90)': 'p90', 'p(99)': 'p99', 'p(99.9)': 'p99.9', 'p999': 'p99.9', med: 'p50', avg: 'mean', rps: 'rate' };

export function parseThreshold(text: string): Threshold {
  const expression = text.trim();
  const match = /^([a-z0-9.()]+)\s*(<=|>=|==|<|>)\s*([0-9]*\.?[0-9]+)\s*(us|µs|ms|s|%|\/s)?$/i.exec(expression);
  if (!match) throw new ThresholdSyntaxError(`threshold "${text}": expected METRIC OP VALUE, such as p99<5ms, errors<0.1%, wrong==0 or rate>=1000`);
  const [, rawMetric = '', op = '<', rawValue = '0', unit] = match;
  const metric = ALIASES[rawMetric.toLowerCase()] ?? rawMetric.toLowerCase();
  const value = Number(rawValue);
  if ((LATENCY_METRICS as readonly string[]).includes(metric)) {
    if (unit === '%' || unit === '/s') throw new ThresholdSyntaxError(`threshold "${text}": a latency takes us, ms or s`);
    // A bare number is milliseconds, the unit of every latency this tool prints.
    return { expression, metric: metric as LatencyMetric, op: op as Operator, value: value * UNIT_MS[unit ?? 'ms']! };
  }
  if (metric === 'errors' || metric === 'wrong') {
    if (unit !== undefined && unit !== '%') throw new ThresholdSyntaxError(`threshold "${text}": ${metric} takes a count or a percentage`);
    return { expression, metric, op: op as Operator, value: unit === '%' ? value / 100 : value, share: unit === '%' };
  }
  if (metric === 'rate' || metric === 'knee') {
    if (unit !== undefined && unit !== '/s') throw new ThresholdSyntaxError(`threshold "${text}": ${metric} is in requests per second`);
    return { expression, metric, op: op as Operator, value };
  }
  throw new ThresholdSyntaxError(`threshold "${text}": unknown metric "${rawMetric}" (one of ${[...LATENCY_METRICS, 'errors', 'wrong', 'rate', 'knee'].join(', ')})`);
}

/** What thresholds are evaluated on: one run's summary, or a ramp's knee step with the knee itself. */
export interface ThresholdSubject {
  latencyMs: Record<LatencyMetric, number>;
  requests: number;
  errors: number;
  decisions: number;
  wrong: number;
  rate: number;
  /** Highest rate of a ramp within its bound; null outside a ramp or when no step was. */
  knee?: number | null;
}

export interface ThresholdOutcome {
  expression: string;
  ok: boolean;
  /** The measured value in the threshold's own terms (ms, a share, a count, per second); null when there is none. */
  actual: number | null;
  /** How the measured value is shown beside the threshold. */
  shown: string;
}

const compare = (actual: number, op: Operator, bound: number): boolean =>
  op === '<' ? actual < bound : op === '<=' ? actual <= bound : op === '>' ? actual > bound : op === '>=' ? actual >= bound : actual === bound;

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1) return `${Number((ms * 1000).toPrecision(3))} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export const formatShare = (share: number): string => `${(share * 100).toFixed(share > 0 && share < 0.001 ? 3 : 2)}%`;

export function evaluateThreshold(t: Threshold, s: ThresholdSubject): ThresholdOutcome {
  let actual: number | null;
  let shown: string;
  if (t.metric === 'errors' || t.metric === 'wrong') {
    const count = t.metric === 'errors' ? s.errors : s.wrong;
    const of = t.metric === 'errors' ? s.requests : s.decisions;
    const share = of > 0 ? count / of : 0;
    actual = t.share ? share : count;
    shown = `${count.toLocaleString('en-US')} of ${of.toLocaleString('en-US')}${t.share ? `, ${formatShare(share)}` : ''}`;
  } else if (t.metric === 'rate') {
    actual = s.rate;
    shown = `${Math.round(s.rate).toLocaleString('en-US')}/s`;
  } else if (t.metric === 'knee') {
    actual = s.knee ?? null;
    shown = actual === null ? 'no step within the bound' : `${actual.toLocaleString('en-US')}/s`;
  } else {
    actual = s.latencyMs[t.metric];
    // No answer at all has no latency: a latency bound then fails rather than passing on nothing.
    if (s.requests === 0 || !Number.isFinite(actual)) actual = null;
    shown = actual === null ? 'no answers' : formatMs(actual);
  }
  return { expression: t.expression, ok: actual !== null && compare(actual, t.op, t.value), actual, shown };
}
