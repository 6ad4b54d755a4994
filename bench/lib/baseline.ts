import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
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

export type BaselineBuild = { ok: true; ref: string; commit: string; entry: string } | { ok: false; ref: string; reason: string };

/**
 * Builds "the same tree with the hot-path files of `ref`" into bench/.data/baseline, so a
 * before/after comparison runs both builds interleaved in one invocation, on the same
 * machine state, with everything else (server, store, config) identical.
 */
export async function buildBaseline(ref: string): Promise<BaselineBuild> {
  const dir = path.join(DATA_DIR, 'baseline');
  try {
    const commit = (await run('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: ROOT })).stdout.trim();
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
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
    return { ok: true, ref, commit, entry: path.join(dir, 'dist/main.js') };
  } catch (error) {
    const detail = (error as { stdout?: string; stderr?: string }).stdout?.trim() || (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    return { ok: false, ref, reason: `could not build the baseline at ${ref}: ${detail.split('\n').slice(0, 5).join(' ')}` };
  }
}
