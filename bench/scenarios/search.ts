import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../lib/castellan.js';
import { latencyPercentiles, type LatencyPercentiles } from '../lib/load.js';
import { startCastellan } from '../lib/processes.js';
import type { BenchContext } from './context.js';
import { measure, MEMORY_FILE } from './memory.js';

export interface SearchPass extends LatencyPercentiles {
  limit: number;
  pages: number;
  results: number;
  /** Results that were not the expected subjects, or came twice. */
  wrong: number;
  totalSeconds: number;
  firstPageMs: number;
  lastPageMs: number;
  /** Highest RSS of the instance during the pass, sampled every 20 ms. */
  rssPeakBytes: number;
}

export interface SearchResult {
  members: number;
  expected: number;
  passes: SearchPass[];
  /** Heap and RSS after a full GC, before the first pass and after the last. */
  before: { rssBytes: number; heapUsedBytes: number };
  after: { rssBytes: number; heapUsedBytes: number };
}

/** RSS of a process from /proc (Linux), 0 when it cannot be read. */
function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * AuthZEN subject search over a project with 10,000 members (bench-search: every other one
 * through a team, 2,000 more members of the company without the project): the whole result
 * paged through at 100 and 1,000 a page, one page after the other, on an instance of its
 * own. Each page is one indexed query bounded by its limit, so the page time should not grow
 * with the page's position, nor the instance's memory with the number of members.
 */
export async function searchScenario(ctx: BenchContext): Promise<SearchResult> {
  const { search } = ctx.dataset;
  const preload = pathToFileURL(path.join(ROOT, 'dist/bench/gc-on-signal.js')).href;
  const proc = await startCastellan('castellan-search', ctx.env, { nodeArgs: ['--expose-gc', `--import=${preload}`], extraEnv: { BENCH_MEMORY_FILE: MEMORY_FILE } });
  const url = `${proc.url}/authzen/${search.companyId}/access/v1/search/subject`;
  const question = { subject: { type: 'user' }, action: { name: 'view' }, resource: { type: 'Project', id: search.projectId } };
  try {
    // One unrecorded pass warms the JIT and PostgreSQL's buffers.
    await pass(1000, false);
    const before = await measure(proc);
    const passes = [await pass(100, true), await pass(1000, true)];
    const after = await measure(proc);
    return { members: search.members, expected: search.expected, passes, before, after };
  } finally {
    await proc.stop();
  }

  async function pass(limit: number, log: boolean): Promise<SearchPass> {
    const latencies: number[] = [];
    const seen = new Set<string>();
    let wrong = 0;
    let token = '';
    let rssPeakBytes = rssOf(proc.pid);
    const sampler = setInterval(() => (rssPeakBytes = Math.max(rssPeakBytes, rssOf(proc.pid))), 20);
    const started = performance.now();
    try {
      do {
        const answer = await ctx.http.post(url, JSON.stringify({ ...question, page: token ? { token } : { limit } }));
        if (answer.status !== 200) throw new Error(`subject search answered ${answer.status}: ${answer.text.slice(0, 200)}`);
        latencies.push(answer.ms);
        const body = JSON.parse(answer.text) as { results: Array<{ id: string }>; page: { next_token: string } };
        for (const { id } of body.results) {
          // The 2,000 members without the project are bench-search-o00000...
          if (seen.has(id) || !id.startsWith(`${search.companyId}-`) || /-o\d+$/.test(id)) wrong++;
          seen.add(id);
        }
        token = body.page.next_token;
      } while (token);
    } finally {
      clearInterval(sampler);
    }
    const totalSeconds = (performance.now() - started) / 1000;
    if (seen.size !== search.expected) wrong += Math.abs(search.expected - seen.size);
    const result: SearchPass = {
      limit,
      pages: latencies.length,
      results: seen.size,
      wrong,
      totalSeconds,
      firstPageMs: latencies[0]!,
      lastPageMs: latencies[latencies.length - 1]!,
      rssPeakBytes,
      ...latencyPercentiles(latencies),
    };
    if (log) ctx.log(`  limit ${limit}: ${result.pages} pages, ${result.results} subjects in ${totalSeconds.toFixed(2)} s, page p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms (first ${result.firstPageMs.toFixed(1)}, last ${result.lastPageMs.toFixed(1)}), RSS peak ${(rssPeakBytes / 2 ** 20).toFixed(0)} MiB`);
    return result;
  }
}
