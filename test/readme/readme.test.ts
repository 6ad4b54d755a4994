import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runnableChunks } from './readme-blocks.js';
import { runChunks, stopEverything, type ChunkResult } from './run-readme.js';

/**
 * Issue 18: the README's snippets must run as written. This test runs every shell block of
 * README.md, in order, in one bash session, against a fresh embedded server that the README's
 * own first block starts, and compares each output with the one the README shows.
 *
 * Which blocks run, and how outputs are written, is in readme-blocks.ts (and the README's
 * "Contributing" note): ```sh / ```bash / ```shell blocks run; ```console, ```text and the
 * rest do not. Output lines follow their command as `# => ...`; `...` matches anything;
 * versions, UUIDs, timestamps and tokens are masked.
 *
 * What differs from a newcomer's shell, and why:
 * - bash runs in a temporary directory holding links to the built repository (workingCopy), so the
 *   README's `castellan.log`, `castellan.pid` and default `./.castellan` data directory are the test's own;
 * - the environment is a clean one (no DATABASE_URL, REDIS_*, AUTH_*, CHECK_TOKEN or
 *   OPERATOR_TOKEN of the test runner's), with PORT set to a free port: the README's code says
 *   8080, which is replaced by that port, and the port is read back as 8080 in the output;
 * - `npm ci` and `npm run build*` do nothing: `npm test` has just installed and built the
 *   repository, and doing it again would rewrite node_modules/ and dist/ under the other test files.
 * Whatever happens, the session's process group and the server it started are stopped.
 */
const root = path.resolve(import.meta.dirname, '../..');

const PRELUDE = `npm() {
  if [ "$1" = ci ] || { [ "$1" = run ] && [ "\${2#build}" != "$2" ]; }; then return 0; fi
  command npm "$@"
}`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A directory that runs like a fresh clone after `npm ci && npm run build`: links to what the
 * built server and the npm scripts read, and not to the sources or tsconfig files, so an
 * example that would build (npm start, npm run migrate) fails in the test instead of
 * rewriting the repository's dist/ under the other test files.
 */
const LINKED = ['package.json', 'package-lock.json', 'node_modules', 'dist', 'policies', 'docs'];
function workingCopy(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'castellan-readme-'));
  for (const entry of LINKED) symlinkSync(path.join(root, entry), path.join(dir, entry));
  return dir;
}

const report = (result: ChunkResult) =>
  [
    `README.md:${result.chunk.line}: ${result.failure}`,
    `  ran:\n${result.chunk.code.replace(/^/gm, '    ')}`,
    ...(result.chunk.expected !== undefined ? [`  the README shows:\n${result.chunk.expected.replace(/^/gm, '    # => ')}`] : []),
    `  printed (exit ${result.exitCode}):\n${result.output.replace(/^/gm, '    # => ')}`,
  ].join('\n');

/** What the run started, for the hooks below should the test itself not get to stop it. */
let started: { pgid: number | undefined; cwd: string } | undefined;
const pidFiles = (cwd: string) => [path.join(cwd, 'castellan.pid'), path.join(cwd, '.castellan', 'castellan.lock')];
afterAll(async () => {
  if (started) await stopEverything(started.pgid, pidFiles(started.cwd));
});
// A worker that exits without its hooks still takes the session's process group with it.
process.once('exit', () => {
  try {
    if (started?.pgid) process.kill(-started.pgid, 'SIGKILL');
  } catch {
    // Already gone.
  }
});

describe('README.md', () => {
  const { chunks, problems } = runnableChunks(readFileSync(path.join(root, 'README.md'), 'utf8'));

  it('has shell examples in the shape the test runs', () => {
    expect(problems).toEqual([]);
    // A README whose every example stopped being run would pass vacuously.
    expect(chunks.filter((chunk) => chunk.expected !== undefined).length).toBeGreaterThanOrEqual(15);
    expect(chunks[0]!.code).toMatch(/node dist\/main\.js/);
  });

  it('runs every shell block as written, in order, on a fresh embedded start, printing what it shows', { timeout: 1_200_000 }, async () => {
    const cwd = workingCopy();
    const port = await freePort();
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      LANG: 'C.UTF-8',
      PORT: String(port),
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
    };
    // Generous for a loaded 2-core machine (a first embedded start took 32 s at load 26), and
    // the whole run stops well before the test's own timeout, so the finally below always runs.
    const run = runChunks(chunks, { cwd, env, port, chunkTimeoutMs: 300_000, totalTimeoutMs: 900_000, prelude: PRELUDE });
    started = { pgid: run.pgid, cwd };
    let results: ChunkResult[];
    try {
      results = await run.results;
    } finally {
      await stopEverything(run.pgid, pidFiles(cwd));
      started = undefined;
      rmSync(cwd, { recursive: true, force: true });
    }
    // README_TEST_OUTPUT=file: what every block printed, for whoever writes the README's outputs.
    if (process.env.README_TEST_OUTPUT) writeFileSync(process.env.README_TEST_OUTPUT, results.map((r) => `README.md:${r.chunk.line} (exit ${r.exitCode})\n${r.output}\n`).join('\n'));
    expect(results.length).toBe(chunks.length);
    expect(results.filter((result) => result.failure).map(report)).toEqual([]);
  });
});
