import { execFileSync } from 'node:child_process';
import os from 'node:os';

/**
 * Where the bench runs things: every server (Castellan, the limit, Cerbos) on one core and
 * the load generator on another. Left to the scheduler on a two-core machine, server and
 * generator trade cores and time slices, and the run-to-run spread of requests/s was larger
 * than the changes the bench is there to measure.
 */
export type Pinning = { pinned: true; serverCpu: number; loadCpu: number } | { pinned: false; reason: string };

/** Moves this process (the load generator, every thread) to its core; servers are started under `taskset` (processes.ts). */
export function pinLoadGenerator(wanted: boolean): Pinning {
  if (!wanted) return { pinned: false, reason: 'turned off with --no-pin' };
  if (os.availableParallelism() < 2) return { pinned: false, reason: 'fewer than 2 cores' };
  const pinning = { pinned: true as const, serverCpu: 0, loadCpu: 1 };
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(pinning.loadCpu), String(process.pid)], { stdio: 'ignore' });
  } catch (error) {
    return { pinned: false, reason: `taskset failed (${(error as Error).message.split('\n')[0]})` };
  }
  return pinning;
}
