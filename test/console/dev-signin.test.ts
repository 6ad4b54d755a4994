import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseUrl, consoleLink } from '../../src/console/link-cli.js';

describe('console sign-in link', () => {
  it('prints a link whose fragment carries the token, the company and the name to open it with', () => {
    expect(baseUrl({ PUBLIC_URL: undefined, HOST: '127.0.0.1', PORT: 8080 })).toBe('http://127.0.0.1:8080');
    expect(baseUrl({ PUBLIC_URL: 'https://authz.example.com', HOST: '0.0.0.0', PORT: 8080 })).toBe('https://authz.example.com');
    expect(consoleLink('http://127.0.0.1:8080', 'a.b.c', 'acme', 'Acme Corp')).toBe('http://127.0.0.1:8080/console/#token=a.b.c&company=acme&create=Acme+Corp');
    expect(consoleLink('http://127.0.0.1:8080/', 'a.b.c')).toBe('http://127.0.0.1:8080/console/#token=a.b.c');
  });

  it('prints it when run through a symlinked dist/ too (it printed nothing: the README test runs a linked copy)', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const dir = mkdtempSync(path.join(tmpdir(), 'castellan-link-'));
    try {
      for (const entry of ['dist', 'node_modules', 'package.json']) symlinkSync(path.join(root, entry), path.join(dir, entry));
      const run = spawnSync(process.execPath, ['dist/console/link-cli.js', 'ada', '--company', 'acme'], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', AUTH_JWT_SECRET: 'link-test-secret-0123456789abcdef0123' },
        encoding: 'utf8',
      });
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^http:\/\/127\.0\.0\.1:8080\/console\/#token=eyJ[\w-]+\.[\w-]+\.[\w-]+&company=acme\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
