import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * No Docker engine runs in CI, so .ci/run proves the image's steps outside Docker. This
 * file keeps the two honest: the Dockerfile does what the issue asks, and .ci/run runs the
 * same production path (build, prune dev dependencies, copy the same artefacts, start, /healthz).
 */

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions with line continuations joined and comments dropped, grouped by FROM. */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: args.replace(/\s+/g, ' ') };
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args.split(' ');
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

const argsOf = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

/** COPY sources and destination, with flags like --from and --chown separated out. */
function copies(stage: Stage): Array<{ from: string | undefined; sources: string[]; destination: string }> {
  return argsOf(stage, 'COPY').map((args) => {
    const words = args.split(' ');
    const flags = words.filter((w) => w.startsWith('--'));
    const paths = words.filter((w) => !w.startsWith('--'));
    const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
    return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
  });
}

/** What ends up in the final image's working directory, by top-level name. */
function artefacts(stage: Stage): string[] {
  return copies(stage)
    .flatMap(({ sources, destination }) => (destination === './' || destination === '.' ? sources.map((s) => path.basename(s)) : [path.basename(destination)]))
    .sort();
}

/** The tsconfig files `npm run build` reads, following `extends`. */
function buildTsconfigs(): string[] {
  const scripts = JSON.parse(read('package.json')).scripts;
  // build:server builds the console too (npm run build:console): it is served by the server.
  const script: string = `${scripts['build:server']} ${scripts['build:console']}`;
  const found = new Set<string>();
  const visit = (file: string) => {
    if (found.has(file)) return;
    found.add(file);
    const config = JSON.parse(read(file));
    if (typeof config.extends === 'string') visit(path.normalize(path.join(path.dirname(file), config.extends)));
  };
  for (const [, project] of script.matchAll(/tsc -p (\S+)/g)) visit(project!);
  return [...found].sort();
}

const stages = parseDockerfile(read('Dockerfile'));
const runtime = stages.at(-1)!;
const buildStageName = copies(runtime).find((c) => c.from)?.from;
const build = stages.find((s) => s.name === buildStageName);

describe('Dockerfile', () => {
  it('is multi-stage, every stage on the Node 24 LTS slim image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.image).toMatch(/^node:24(\.\d+)*-([a-z]+-)?slim$/);
  });

  it('the build stage installs every dependency with npm ci, then builds the server (npm run build:server, which npm run build runs first)', () => {
    expect(build).toBeDefined();
    expect(JSON.parse(read('package.json')).scripts.build).toMatch(/^npm run build:server && /);
    const runs = argsOf(build!, 'RUN');
    const install = runs.findIndex((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev'));
    const compile = runs.findIndex((r) => r === 'npm run build:server');
    expect(install).toBeGreaterThanOrEqual(0);
    expect(compile).toBeGreaterThan(install);
  });

  it('the build stage gets every input of the build: sources, migrations, the console and the tsconfig files it reads', () => {
    const copied = copies(build!).flatMap((c) => c.sources);
    const tsconfigs = buildTsconfigs();
    expect(JSON.parse(read('package.json')).scripts['build:server']).toContain('npm run build:console');
    expect(tsconfigs).toEqual(['console/tsconfig.json', 'migrations/tsconfig.json', 'tsconfig.base.json', 'tsconfig.build.json']);
    for (const input of ['package.json', 'package-lock.json', 'src', 'migrations', 'console', ...tsconfigs.filter((f) => !f.startsWith('migrations/') && !f.startsWith('console/'))]) {
      expect(copied).toContain(input);
    }
  });

  it('the final stage installs production dependencies only and takes dist/ from the build and policies/ from the source', () => {
    const runs = argsOf(runtime, 'RUN');
    expect(runs.some((r) => /^npm ci --omit=dev\b/.test(r))).toBe(true);
    expect(runs.some((r) => /npm (ci|install)(?!.*--omit=dev)/.test(r))).toBe(false);
    expect(runs.some((r) => r.includes('npm run build'))).toBe(false);
    expect(copies(runtime)).toEqual(
      expect.arrayContaining([
        { from: buildStageName, sources: ['/app/dist'], destination: './dist' },
        { from: undefined, sources: ['policies'], destination: './policies' },
        { from: undefined, sources: ['package.json', 'package-lock.json'], destination: './' },
      ]),
    );
    expect(argsOf(runtime, 'WORKDIR')).toEqual(['/app']);
  });

  it('runs as a user other than root', () => {
    const users = argsOf(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    // Nothing after USER switches back or runs as root.
    const lastUser = runtime.instructions.findLastIndex((i) => i.keyword === 'USER');
    expect(runtime.instructions.slice(lastUser + 1).map((i) => i.keyword)).not.toContain('RUN');
  });

  it('checks its health on /healthz and starts node dist/main.js in exec form (so SIGTERM reaches node)', () => {
    const [healthcheck] = argsOf(runtime, 'HEALTHCHECK');
    expect(healthcheck).toMatch(/ CMD .*\/healthz/);
    expect(argsOf(runtime, 'CMD')).toEqual(['["node", "dist/main.js"]']);
    expect(argsOf(runtime, 'ENTRYPOINT')).toEqual([]);
  });

  it('puts the castellan launcher (dist/cli.js, made executable by the build) on the PATH, for castellan loadtest', () => {
    expect(argsOf(runtime, 'RUN')).toContain('ln -s /app/dist/cli.js /usr/local/bin/castellan');
    expect(JSON.parse(read('package.json')).scripts['build:server']).toMatch(/&& chmod \+x dist\/cli\.js dist\/loadtest\/cli\.js$/);
    expect(read('src/cli.ts').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('dist/main.js is what the build makes of src/main.ts', () => {
    const buildConfig = JSON.parse(read('tsconfig.build.json'));
    expect(buildConfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(path.join(root, 'src/main.ts'))).toBe(true);
    expect(JSON.parse(read('package.json')).main).toBe('dist/main.js');
  });

  it('.dockerignore keeps host builds out and every input the Dockerfile copies in', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist']));
    const fromContext = stages.flatMap((s) => copies(s).filter((c) => !c.from).flatMap((c) => c.sources));
    for (const source of fromContext) expect(ignored, source).not.toContain(source);
  });
});

describe('.ci/run proves the same production path outside Docker', () => {
  const script = read('.ci/run');
  const productionPath = script.slice(script.indexOf('production path'));

  it('builds, then copies exactly what the final image holds into a clean directory', () => {
    expect(productionPath).toMatch(/\nnpm run build\n/);
    const copy = /\ncp -r ([^\n]+) "\$prod\/"\n/.exec(productionPath);
    expect(copy).not.toBeNull();
    expect(copy![1]!.split(' ').sort()).toEqual(artefacts(runtime));
    expect(artefacts(runtime)).toEqual(['dist', 'package-lock.json', 'package.json', 'policies']);
  });

  it('installs production dependencies only, starts node dist/main.js there and waits for /healthz', () => {
    expect(productionPath).toMatch(/cd "\$prod" && npm ci --omit=dev\b/);
    expect(productionPath).toMatch(/cd "\$prod" && [^\n]*node dist\/main\.js/);
    expect(productionPath).toMatch(/curl -fsS "http:\/\/127\.0\.0\.1:\$port\/healthz"/);
  });
});
