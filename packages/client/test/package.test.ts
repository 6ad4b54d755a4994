import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What a service installs is the built package, reached through its exports map, not the
 * sources the other tests import. `npm test` builds first (npm run build).
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

describe('@castellan/client as published', () => {
  it('resolves both entries by name from another workspace, as ESM, with the client and the middleware in them', async () => {
    const script = `
      const client = await import('@castellan/client');
      const express = await import('@castellan/client/express');
      console.log(JSON.stringify({ main: import.meta.resolve('@castellan/client'), client: typeof client.createCastellanClient, error: typeof client.CastellanUnavailableError, authorize: typeof express.authorize }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: `${root}/examples/express-service` });
    const seen = JSON.parse(stdout);
    expect(seen).toMatchObject({ client: 'function', error: 'function', authorize: 'function' });
    expect(seen.main).toMatch(/packages\/client\/dist\/index\.js$/);
  });

  it('ships the built code with its types and the README, and neither tests nor sources', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--workspace', '@castellan/client'], { cwd: root });
    const files: string[] = JSON.parse(stdout)[0].files.map((f: { path: string }) => f.path);
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/express.js', 'dist/express.d.ts', 'dist/generated/api.d.ts', 'README.md', 'package.json']) expect(files).toContain(file);
    expect(files.filter((f) => !f.startsWith('dist/') && !['README.md', 'package.json'].includes(f))).toEqual([]);
    expect(files.some((f) => f.endsWith('.tsbuildinfo'))).toBe(false);
  });

  it('depends on nothing at run time: @casl/ability and express are optional peers', () => {
    expect(manifest.dependencies).toBeUndefined();
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['@casl/ability', 'express']);
    expect(manifest.peerDependenciesMeta).toEqual({ '@casl/ability': { optional: true }, express: { optional: true } });
    expect(manifest.type).toBe('module');
  });
});
