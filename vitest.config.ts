import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (file: string) => fileURLToPath(new URL(`./packages/client/src/${file}`, import.meta.url));

export default defineConfig({
  // The example imports the client by its package name: tests run it against the client's
  // source, so they never see a stale build (test/package.test.ts checks the built package).
  resolve: {
    alias: [
      { find: /^@castellan\/client\/express$/, replacement: source('express.ts') },
      { find: /^@castellan\/client$/, replacement: source('index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    // Bounds against a hang, not timings: property tests against real servers took past 30 s
    // on this 2-core machine when other work loaded it (load average 25-40).
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: a few files at a time keeps database-heavy files from starving each other.
    maxWorkers: 4,
  },
});
