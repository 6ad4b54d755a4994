import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../lib/castellan.js';
import { mapConcurrent } from '../lib/http.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { DATA_DIR, startCastellan, type Proc } from '../lib/processes.js';
import { checkBody } from '../lib/workload.js';
import type { BenchContext } from './context.js';

export interface MemoryStep {
  principals: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Heap used above the empty instance's, per cached principal. */
  heapBytesPerPrincipal: number | null;
  loadSeconds: number;
  non2xx: number;
}

export interface MemoryResult {
  baseline: { rssBytes: number; heapUsedBytes: number };
  steps: MemoryStep[];
  note?: string;
}

export const MEMORY_FILE = path.join(DATA_DIR, 'memory-usage.json');

/** Asks the instance for a full collection and its process.memoryUsage() (SIGUSR2, see gc-on-signal.ts). */
export async function measure(proc: Proc): Promise<{ rssBytes: number; heapUsedBytes: number }> {
  rmSync(MEMORY_FILE, { force: true });
  process.kill(proc.pid, 'SIGUSR2');
  const deadline = Date.now() + 10_000;
  while (!existsSync(MEMORY_FILE)) {
    if (Date.now() > deadline) throw new Error(`the memory instance did not report its memory usage; see ${proc.logFile}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const usage = JSON.parse(readFileSync(MEMORY_FILE, 'utf8')) as { collected: boolean; rss: number; heapUsed: number };
  if (!usage.collected) throw new Error('the memory instance has no gc() (started without --expose-gc?)');
  return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed };
}

/**
 * RSS and heap of one instance with N principals in L1: every principal is asked one
 * check (a cache miss that loads and compiles it), then a full GC, then the reading.
 * Read through a preloaded signal handler, not /metrics, which the instance may not serve.
 */
export async function memoryScenario(ctx: BenchContext): Promise<MemoryResult> {
  const members = ctx.dataset.regular;
  const largest = Math.max(...ctx.options.memorySteps);
  const env = { ...ctx.env, cacheMaxEntries: largest + 1000 };
  const preload = pathToFileURL(path.join(ROOT, 'dist/bench/gc-on-signal.js')).href;
  const proc = await startCastellan('castellan-memory', env, { nodeArgs: ['--expose-gc', `--import=${preload}`], extraEnv: { BENCH_MEMORY_FILE: MEMORY_FILE } });
  try {
    const baseline = await measure(proc);
    const steps: MemoryStep[] = [];
    let loaded = 0;
    for (const target of ctx.options.memorySteps) {
      const count = Math.min(target, members.length);
      const started = performance.now();
      const statuses = await mapConcurrent(members.slice(loaded, count), 32, async (p) => {
        const answer = await ctx.http.post(`${proc.url}/v1/check`, checkBody(p, { action: 'view', resource: { type: 'Project', id: 'p0' } }));
        return answer.status;
      });
      const loadSeconds = (performance.now() - started) / 1000;
      loaded = count;
      const reading = await measure(proc);
      const step: MemoryStep = {
        principals: count,
        rssBytes: reading.rssBytes,
        heapUsedBytes: reading.heapUsedBytes,
        heapBytesPerPrincipal: count > 0 ? (reading.heapUsedBytes - baseline.heapUsedBytes) / count : null,
        loadSeconds,
        non2xx: statuses.filter((s) => s !== 200).length,
      };
      ctx.log(`  ${count} principals: RSS ${(step.rssBytes / 2 ** 20).toFixed(0)} MiB, heap ${(step.heapUsedBytes / 2 ** 20).toFixed(0)} MiB (loaded in ${loadSeconds.toFixed(1)} s)`);
      steps.push(step);
    }
    const result: MemoryResult = { baseline: { rssBytes: baseline.rssBytes, heapUsedBytes: baseline.heapUsedBytes }, steps };
    if (largest > members.length) result.note = `the dataset has ${members.length} members; steps above that were capped (raise --users)`;
    return result;
  } finally {
    await proc.stop();
  }
}
