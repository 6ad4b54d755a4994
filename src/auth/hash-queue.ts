import { TooManyRequestsError } from '../errors.js';

export interface HashQueueLimits {
  /** Hashes running at once: each keeps a core busy for tens of milliseconds. */
  concurrency: number;
  /** Callers waiting for a place; anyone beyond them is refused at once. */
  maxWaiting: number;
}

/**
 * A line for scrypt work (password checks and new password hashes). Every login brings its
 * own lockout allowance, so rotating logins would otherwise buy as many hashes as requests:
 * this bounds them per instance instead. Refusing costs nothing, which is the point: an
 * instance under a login flood answers 429 at once and keeps its other cores, and libuv's
 * other threads, for everything else.
 */
export interface HashQueue {
  /** Runs `work` when a place is free; throws TooManyRequestsError at once when the line is full. */
  run<T>(work: () => Promise<T>): Promise<T>;
}

/** How much a new duration moves the running average: a few dozen hashes make the estimate. */
const AVERAGE_WEIGHT = 0.1;

/** Until measured: scrypt at N=2^15 on a busy core. */
const FIRST_GUESS_MS = 100;

/** Whole seconds until the line ahead of a refused caller has likely drained, at least 1. */
export function busyRetryAfterSeconds(inLine: number, concurrency: number, averageMs: number): number {
  return Math.max(1, Math.ceil((inLine * averageMs) / concurrency / 1000));
}

export function createHashQueue(limits: HashQueueLimits): HashQueue {
  let running = 0;
  let averageMs = FIRST_GUESS_MS;
  const waiting: Array<() => void> = [];

  // A place that frees up passes straight to the first in line, so `running` never dips meanwhile.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };

  return {
    async run(work) {
      if (running < limits.concurrency) running += 1;
      else if (waiting.length < limits.maxWaiting) await new Promise<void>((resolve) => waiting.push(resolve));
      else {
        const seconds = busyRetryAfterSeconds(running + waiting.length, limits.concurrency, averageMs);
        throw new TooManyRequestsError('too many password checks in progress; try again shortly', seconds);
      }
      const started = performance.now();
      try {
        return await work();
      } finally {
        averageMs += AVERAGE_WEIGHT * (performance.now() - started - averageMs);
        release();
      }
    },
  };
}
