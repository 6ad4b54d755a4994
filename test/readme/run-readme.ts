import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { matches, silentFailure, tidyOutput, type Chunk } from './readme-blocks.js';

export interface ChunkResult {
  chunk: Chunk;
  output: string;
  exitCode: number;
  /** Why it failed; undefined when it passed. */
  failure?: string;
}

export interface RunOptions {
  /** Where bash runs: the README's relative paths resolve here. */
  cwd: string;
  env: Record<string, string>;
  /** The README says 8080: its code is run against this port instead, and its output read back as 8080. */
  port: number;
  chunkTimeoutMs: number;
  /** The whole run stops here, so whoever started it can still stop what it started before its own timeout. */
  totalTimeoutMs?: number;
  /** Lines run before the README's own: helpers of the test, never the README's business. */
  prelude?: string;
}

const MARK = '@@castellan-readme@@';

/** The chunks as one script, each between markers that carry its exit code. */
function script(chunks: readonly Chunk[], port: number, prelude: string): string {
  const parts = ['exec 2>&1', prelude, `__readme_mark() { printf '\\n${MARK} %s\\n' "$*"; }`];
  chunks.forEach((chunk, i) => {
    parts.push(`__readme_mark start ${i}`, chunk.code.replaceAll(':8080', `:${port}`), `__readme_mark end ${i} $?`);
  });
  parts.push('__readme_mark done');
  return `${parts.join('\n')}\n`;
}

/**
 * Runs the chunks in one bash session (its own process group, so everything it starts in the
 * background can be stopped with it) and judges each one. A chunk that does not finish in
 * time ends the run: the rest are reported as not run.
 */
export function runChunks(chunks: readonly Chunk[], options: RunOptions): { pgid: number | undefined; results: Promise<ChunkResult[]> } {
  const file = path.join(options.cwd, '.readme-test.sh');
  writeFileSync(file, script(chunks, options.port, options.prelude ?? ''));
  const bash = spawn('bash', ['--noprofile', '--norc', file], { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  bash.stdout!.on('data', (data: Buffer) => (text += data.toString('utf8')));
  bash.stderr!.on('data', (data: Buffer) => (text += data.toString('utf8')));
  const exited = new Promise<void>((resolve) => bash.once('close', () => resolve()));

  return { pgid: bash.pid, results: judge(chunks, options, () => text, exited) };
}

async function judge(chunks: readonly Chunk[], options: RunOptions, printed: () => string, exited: Promise<void>): Promise<ChunkResult[]> {
  const results: ChunkResult[] = [];
  const runDeadline = Date.now() + (options.totalTimeoutMs ?? Number.POSITIVE_INFINITY);
  let gone = false;
  void exited.then(() => (gone = true));
  const outputOf = (i: number) => {
    const text = printed();
    const start = text.indexOf(`\n${MARK} start ${i}\n`);
    const end = new RegExp(`\\n${MARK} end ${i} (\\d+)\\n`).exec(text);
    if (start < 0 || !end) return undefined;
    return { output: text.slice(start + `\n${MARK} start ${i}\n`.length, end.index), exitCode: Number(end[1]) };
  };
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    const deadline = Math.min(Date.now() + options.chunkTimeoutMs, runDeadline);
    let done = outputOf(i);
    while (!done && !gone && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      done = outputOf(i);
    }
    if (!done) {
      const text = printed();
      const started = text.lastIndexOf(`\n${MARK} start ${i}\n`);
      const partial = started < 0 ? '' : text.slice(started).split('\n').slice(2).join('\n');
      const why = gone
        ? 'the shell ended before it finished'
        : Date.now() >= runDeadline
          ? `the whole run took more than ${options.totalTimeoutMs! / 1000} s`
          : `it did not finish in ${options.chunkTimeoutMs / 1000} s`;
      results.push({ chunk, output: partial, exitCode: -1, failure: `${why}; printed so far:\n${partial}` });
      for (const rest of chunks.slice(i + 1)) results.push({ chunk: rest, output: '', exitCode: -1, failure: 'not run: an earlier block did not finish' });
      break;
    }
    const output = done.output.replaceAll(`:${options.port}`, ':8080');
    let failure: string | undefined;
    if (chunk.expected !== undefined) {
      if (!matches(output, chunk.expected)) failure = `printed something else than the README shows`;
    } else {
      failure = silentFailure(output, done.exitCode);
    }
    results.push({ chunk, output: tidyOutput(output), exitCode: done.exitCode, ...(failure ? { failure } : {}) });
  }
  return results;
}

/** Stops everything the run started: the session's process group, and the server it records, in every case. */
export async function stopEverything(pgid: number | undefined, pidFiles: readonly string[]): Promise<void> {
  const pids = pidFiles.flatMap((file) => {
    try {
      const text = readFileSync(file, 'utf8');
      const pid = Number(/"pid":\s*(\d+)/.exec(text)?.[1] ?? text.trim());
      // Only a Castellan server: a pid file outlives its process, and the number may be reused.
      return Number.isInteger(pid) && pid > 1 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/main.js') ? [pid] : [];
    } catch {
      return [];
    }
  });
  const signal = (target: number, name: NodeJS.Signals | 0) => {
    try {
      process.kill(target, name);
      return true;
    } catch {
      return false;
    }
  };
  if (pgid) signal(-pgid, 'SIGTERM');
  for (const pid of pids) signal(pid, 'SIGTERM');
  // A graceful stop closes PGlite cleanly; give it a while, then make sure.
  for (let i = 0; i < 150 && pids.some((pid) => signal(pid, 0)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  if (pgid) signal(-pgid, 'SIGKILL');
  for (const pid of pids) signal(pid, 'SIGKILL');
}
