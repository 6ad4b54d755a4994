import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './castellan.js';
import { DATA_DIR } from './processes.js';

const run = promisify(execFile);

/**
 * The files the warm-path work may change; the baseline takes exactly these from another
 * commit (a file the ref does not have is left out of its build). Also the files whose
 * build depends on them changing together: decide()'s callers (policy-tests.ts) and what
 * only the newer provider uses (project-sets.ts, exported-rules.ts). And the cold load's
 * store reads (the principal load and the version read), so a cold compile is compared
 * whole. The wiring (app.ts, source.ts, the store's connections) is not swapped: it builds
 * against either provider.
 */
export const HOT_PATH_FILES = [
  'src/check/http-handler.ts',
  'src/check/service.ts',
  'src/check/decide.ts',
  'src/check/abilities.ts',
  'src/check/compact-ability.ts',
  'src/check/lru.ts',
  'src/check/project-sets.ts',
  'src/check/exported-rules.ts',
  'src/check/policy-tests.ts',
  'src/store/principal-facts.ts',
  'src/store/versions.ts',
  'src/http/json.ts',
  'src/http/write-batch.ts',
  'src/metrics.ts',
];

/**
 * `hot-path`: this tree with the hot-path files of the ref. `whole`: the ref's whole tree, built
 * on its own, when its hot-path files no longer build against this tree's wiring (the wiring
 * moved on since); it then runs with its own policy reader and configuration, on this tree's
 * database and migrations (which only ever add), started without migrating.
 */
export type BaselineKind = 'hot-path' | 'whole';
export type BaselineBuild = { ok: true; ref: string; commit: string; entry: string; kind: BaselineKind; env?: Record<string, string>; note?: string } | { ok: false; ref: string; reason: string };

/**
 * Builds "the same tree with the hot-path files of `ref`" into bench/.data/baseline, so a
 * before/after comparison runs both builds interleaved in one invocation, on the same
 * machine state, with everything else (server, store, config) identical.
 */
export async function buildBaseline(ref: string): Promise<BaselineBuild> {
  let commit: string;
  try {
    commit = (await run('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: ROOT })).stdout.trim();
  } catch (error) {
    return failure(ref, 'the baseline', error);
  }
  const swapped = await buildHotPathBaseline(ref, commit);
  if (swapped.ok) return swapped;
  const whole = await buildWholeBaseline(ref, commit);
  return whole.ok ? { ...whole, note: swapped.reason } : { ok: false, ref, reason: `${swapped.reason}; and ${whole.reason}` };
}

const failure = (ref: string, what: string, error: unknown): BaselineBuild => {
  const detail = (error as { stdout?: string; stderr?: string }).stdout?.trim() || (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
  return { ok: false, ref, reason: `could not build ${what} at ${ref}: ${detail.split('\n').slice(0, 5).join(' ')}` };
};

/** bench/.data/<name>, emptied. */
function emptyDir(name: string): string {
  const dir = path.join(DATA_DIR, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function buildHotPathBaseline(ref: string, commit: string): Promise<BaselineBuild> {
  try {
    const dir = emptyDir('baseline');
    for (const item of ['src', 'package.json', 'tsconfig.base.json', 'tsconfig.build.json']) cpSync(path.join(ROOT, item), path.join(dir, item), { recursive: true });
    const { stdout: listed } = await run('git', ['ls-tree', '-r', '--name-only', commit, '--', ...HOT_PATH_FILES], { cwd: ROOT });
    const atRef = new Set(listed.split('\n').filter(Boolean));
    for (const file of HOT_PATH_FILES) {
      // A hot-path file the ref does not have yet is absent from its build too.
      if (!atRef.has(file)) {
        rmSync(path.join(dir, file), { force: true });
        continue;
      }
      const { stdout } = await run('git', ['show', `${commit}:${file}`], { cwd: ROOT, maxBuffer: 16 * 2 ** 20 });
      writeFileSync(path.join(dir, file), stdout);
    }
    await run(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', path.join(dir, 'tsconfig.build.json')], { cwd: dir, timeout: 300_000 });
    return { ok: true, ref, commit, entry: path.join(dir, 'dist/main.js'), kind: 'hot-path' };
  } catch (error) {
    return failure(ref, 'the hot-path baseline', error);
  }
}

/** The ref's tree as it was (`git archive`), built with this checkout's node_modules (the same dependencies, or newer within their ranges). */
async function buildWholeBaseline(ref: string, commit: string): Promise<BaselineBuild> {
  try {
    const dir = emptyDir('baseline-whole');
    await run('sh', ['-c', `git archive --format=tar ${commit} | tar -x -C "${dir}"`], { cwd: ROOT, maxBuffer: 64 * 2 ** 20 });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    await run(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', path.join(dir, 'tsconfig.build.json')], { cwd: dir, timeout: 300_000 });
    return { ok: true, ref, commit, entry: path.join(dir, 'dist/main.js'), kind: 'whole', env: { POLICIES_DIR: path.join(dir, 'policies') } };
  } catch (error) {
    return failure(ref, 'the whole tree', error);
  }
}
