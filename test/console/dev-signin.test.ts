import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { devSecretAllowed, embeddedDevSecret } from '../../src/auth/dev-secret.js';
import { baseUrl, consoleLink } from '../../src/console/link-cli.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'castellan-dev-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const embedded = (over: Record<string, string | undefined> = {}) => ({
  DATABASE_URL: undefined,
  DATA_DIR: tempDir(),
  HOST: '127.0.0.1',
  AUTH_JWT_SECRET: undefined,
  AUTH_JWKS_URL: undefined,
  ...over,
}) as Parameters<typeof embeddedDevSecret>[0];

describe('development sign-in', () => {
  it('an embedded instance on loopback makes a secret once, keeps it owner-only in DATA_DIR and reuses it', () => {
    const config = embedded();
    const secret = embeddedDevSecret(config);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const file = path.join(config.DATA_DIR, 'dev-jwt-secret');
    expect(readFileSync(file, 'utf8')).toBe(`${secret}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(embeddedDevSecret(config)).toBe(secret);
  });

  it('is never enabled with PostgreSQL, off loopback, in memory, or beside a configured identity provider', () => {
    expect(devSecretAllowed(embedded())).toBe(true);
    expect(devSecretAllowed(embedded({ HOST: 'localhost' }))).toBe(true);
    expect(devSecretAllowed(embedded({ DATABASE_URL: 'postgres://db/castellan' }))).toBe(false);
    expect(devSecretAllowed(embedded({ HOST: '0.0.0.0' }))).toBe(false);
    expect(devSecretAllowed(embedded({ DATA_DIR: 'memory://' }))).toBe(false);
    expect(devSecretAllowed(embedded({ AUTH_JWT_SECRET: 'x'.repeat(32) }))).toBe(false);
    expect(devSecretAllowed(embedded({ AUTH_JWKS_URL: 'https://idp.example/jwks.json' }))).toBe(false);
    const postgres = embedded({ DATABASE_URL: 'postgres://db/castellan' });
    expect(embeddedDevSecret(postgres)).toBeUndefined();
  });

  it('prints a link whose fragment carries the token, the company and the name to open it with', () => {
    expect(baseUrl({ PUBLIC_URL: undefined, HOST: '127.0.0.1', PORT: 8080 })).toBe('http://127.0.0.1:8080');
    expect(baseUrl({ PUBLIC_URL: 'https://authz.example.com', HOST: '0.0.0.0', PORT: 8080 })).toBe('https://authz.example.com');
    expect(consoleLink('http://127.0.0.1:8080', 'a.b.c', 'acme', 'Acme Corp')).toBe('http://127.0.0.1:8080/console/#token=a.b.c&company=acme&create=Acme+Corp');
    expect(consoleLink('http://127.0.0.1:8080/', 'a.b.c')).toBe('http://127.0.0.1:8080/console/#token=a.b.c');
  });
});
