import { evaluateThreshold, type Threshold, type ThresholdOutcome, type ThresholdSubject } from './thresholds.js';

/**
 * `--ramp 1000..20000`: open-model steps at rising rates, to find the knee, the highest rate
 * whose answers stay within the bound (`--knee`, by default p99<5ms and errors<1%). A step
 * also fails when the server did not keep up (its median second answered under 95% of the
 * target rate; the drain after the step counts in its last second, so a slow tail alone does
 * not fail it): a queue that keeps growing is no steady state, whatever its p99 says so far. Pure.
 */

export interface RampSpec {
  from: number;
  to: number;
  steps: number;
}

export function parseRamp(text: string, steps: number): RampSpec {
  const match = /^\s*(\d+(?:\.\d+)?)\s*\.\.\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!match) throw new Error(`--ramp ${text}: expected FROM..TO in requests per second, such as 1000..20000`);
  const from = Number(match[1]);
  const to = Number(match[2]);
  if (!(from > 0) || !(to > from)) throw new Error(`--ramp ${text}: FROM must be above 0 and TO above FROM`);
  return { from, to, steps };
}

/** The target rate of each step, evenly spaced from FROM to TO, whole requests per second. */
export function rampRates(spec: RampSpec): number[] {
  if (spec.steps === 1) return [Math.round(spec.to)];
  return Array.from({ length: spec.steps }, (_, i) => Math.round(spec.from + ((spec.to - spec.from) * i) / (spec.steps - 1)));
}

/** The share of the target rate a step must reach to count as kept up with. */
export const KEPT_UP = 0.95;

export interface StepVerdict {
  within: boolean;
  outcomes: ThresholdOutcome[];
  keptUp: boolean;
}

export function judgeStep(bound: readonly Threshold[], subject: ThresholdSubject, targetRate: number): StepVerdict {
  const outcomes = bound.map((t) => evaluateThreshold(t, subject));
  const keptUp = subject.rate >= KEPT_UP * targetRate;
  return { within: keptUp && outcomes.every((o) => o.ok), outcomes, keptUp };
}

/** The knee: the last step of the passing run from the start (a ramp stops at the first step beyond the bound). */
export function kneeOf(steps: ReadonlyArray<{ targetRate: number | null; within: boolean }>): number | null {
  let knee: number | null = null;
  for (const step of steps) {
    if (!step.within) break;
    knee = step.targetRate;
  }
  return knee;
}
