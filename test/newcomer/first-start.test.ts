import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { usesDevSecret } from '../../src/auth/dev-secret.js';

/**
 * Issue 18, item 2: the quick-start server had no way in (every admin call 401 without
 * AUTH_JWT_SECRET). In embedded mode with nothing configured it now makes a development
 * secret in DATA_DIR, dev-token signs with it, and the first start prints the line that makes
 * the first company. Run as a newcomer runs it: the built server, a clean environment.
 */
const root = path.resolve(import.meta.dirname, '../..');
const main = path.join(root, 'dist/main.js');
const devToken = path.join(root, 'dist/auth/dev-token-cli.js');
const dataDir = mkdtempSync(path.join(tmpdir(), 'castellan-newcomer-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Nothing of the test runner's own settings: only what a fresh shell has. */
const cleanEnv = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', DATA_DIR: dataDir, PORT: '0', ...extra });

interface Started {
  child: ChildProcess;
  url: string;
  lines: string[];
}

/** Starts the server and returns once it listens, with what it printed so far (and after). */
async function startServer(): Promise<Started> {
  const child = spawn(process.execPath, [main], { cwd: root, env: cleanEnv() });
  children.push(child);
  const lines: string[] = [];
  let pending = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${stderr}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk;
      const complete = pending.split('\n');
      pending = complete.pop()!;
      lines.push(...complete);
      const listening = lines.map((line) => /castellan listening on (http:\/\/[^"]+)/.exec(line)).find(Boolean);
      if (listening) resolve({ child, url: listening[1]!, lines });
    });
  });
}

async function stop(started: Started): Promise<void> {
  const exited = new Promise((resolve) => started.child.once('exit', resolve));
  started.child.kill('SIGTERM');
  await exited;
}

const waitFor = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
};

const run = (file: string, args: string[], env = cleanEnv()) => spawnSync(process.execPath, [file, ...args], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });

describe('a newcomer\'s first start, embedded, nothing configured', () => {
  it('says its mode first, makes a development secret, and prints the line that makes the first company, which works as pasted', { timeout: 300_000 }, async () => {
    const first = await startServer();
    await waitFor(() => first.lines.some((line) => line.startsWith('curl ')));
    expect(JSON.parse(first.lines[0]!).msg).toBe('castellan starting: embedded store, in-process cache');
    expect(statSync(path.join(dataDir, 'dev-secret')).mode & 0o777).toBe(0o600);

    const suggestion = first.lines.filter((line) => !line.startsWith('{'));
    expect(suggestion).toEqual([
      '# No company yet. Paste this to create one, owned by ada (a development user):',
      `curl -s ${first.url}/v1/companies -H "authorization: Bearer $(npm run -s dev-token -- ada ada@acme.test)" -H 'content-type: application/json' -d '{"id": "acme", "name": "Acme", "domains": ["acme.test"]}'`,
    ]);
    const pasted = spawnSync('bash', ['-c', suggestion[1]!], { cwd: root, env: cleanEnv(), encoding: 'utf8', timeout: 120_000 });
    expect(JSON.parse(pasted.stdout)).toMatchObject({ id: 'acme', name: 'Acme', owner: 'ada', domains: ['acme.test'] });
    // The answer ends with a newline, so the shell's prompt starts on a line of its own.
    expect(pasted.stdout.endsWith('}\n')).toBe(true);

    // dev-token signs what this server accepts.
    const token = run(devToken, ['ada']).stdout.trim();
    const company = await fetch(`${first.url}/v1/companies/acme`, { headers: { authorization: `Bearer ${token}` } });
    expect(company.status).toBe(200);
    // Her address proved acme.test, so the owner is a Member, as in the demo company.
    const me = await fetch(`${first.url}/v1/companies/acme/members/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(await me.json()).toMatchObject({ userId: 'ada', type: 'member', role: 'admin' });

    // A second server on the same directory refuses, in one line naming the first.
    const second = run(main, []);
    expect(second.status).toBe(1);
    expect(second.stderr.trim()).toBe(
      `DATA_DIR ${dataDir} is in use by a castellan server (PID ${first.child.pid}): embedded PostgreSQL serves one process at a time; stop it first, or point DATABASE_URL at a PostgreSQL server`,
    );
    await stop(first);

    // Restarted: the same secret (old tokens still work), and no suggestion now that a company exists.
    const again = await startServer();
    const stillValid = await fetch(`${again.url}/v1/companies/acme`, { headers: { authorization: `Bearer ${token}` } });
    expect(stillValid.status).toBe(200);
    expect(again.lines.some((line) => line.startsWith('curl '))).toBe(false);
    await stop(again);
  });

  it('a port in use is one line naming it', { timeout: 120_000 }, async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const run = spawnSync(process.execPath, [main], { cwd: root, env: cleanEnv({ PORT: String(port), DATA_DIR: 'memory://' }), encoding: 'utf8', timeout: 120_000 });
      expect(run.status).toBe(1);
      expect(run.stderr.trim()).toBe(`port ${port} on 127.0.0.1 is in use by another process: stop it, or set PORT (and HOST) to a free one`);
    } finally {
      taken.close();
    }
  });
});

describe('npm run dev-token', () => {
  it('--help prints the usage instead of signing a token for "--help"; bad minutes and a short secret are one line each', () => {
    const help = run(devToken, ['--help']);
    expect(help).toMatchObject({ status: 0, stdout: 'usage: npm run -s dev-token -- <userId> [email] [minutes]   (minutes: 1 to 10080, default 60)\n' });
    expect(run(devToken, ['ada', 'ada@example.test', 'soon'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^minutes must be a whole number from 1 to 10080 \(got "soon"\)\nusage: /) });
    expect(run(devToken, ['ada', 'ada@example.test', '0'])).toMatchObject({ status: 2 });
    const short = run(devToken, ['ada'], cleanEnv({ AUTH_JWT_SECRET: 'short' }));
    expect(short.status).toBe(1);
    expect(short.stderr.trim()).toBe('Invalid configuration:\n  AUTH_JWT_SECRET: must be at least 32 characters (HS256 needs a 256-bit secret)');
  });

  it('on PostgreSQL with no secret configured there is no development secret to fall back on', () => {
    const refused = run(devToken, ['ada'], cleanEnv({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' }));
    expect(refused).toMatchObject({ status: 1, stderr: 'no secret to sign with: set AUTH_JWT_SECRET (32+ characters), the one the server is configured with\n' });
  });
});

describe('who gets the development secret', () => {
  it('embedded on disk, on loopback, with no identity provider: nobody else', () => {
    const base = { DATABASE_URL: undefined, DATA_DIR: './.castellan', HOST: '127.0.0.1', AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: undefined };
    expect(usesDevSecret(base)).toBe(true);
    expect(usesDevSecret({ ...base, HOST: '::1' })).toBe(true);
    // The image listens on every address: a token minted from its data volume must not pass there.
    expect(usesDevSecret({ ...base, HOST: '0.0.0.0' })).toBe(false);
    expect(usesDevSecret({ ...base, DATABASE_URL: 'postgres://db/castellan' })).toBe(false);
    expect(usesDevSecret({ ...base, DATA_DIR: 'memory://' })).toBe(false);
    expect(usesDevSecret({ ...base, AUTH_JWT_SECRET: 'x'.repeat(32) })).toBe(false);
    expect(usesDevSecret({ ...base, AUTH_JWKS_URL: 'https://idp.example.test/jwks' })).toBe(false);
  });
});
