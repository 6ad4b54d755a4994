import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCastellan } from '../src/app.js';
import { ConfigError, isLoopback, loadConfig } from '../src/config.js';

const main = path.resolve(import.meta.dirname, '../dist/main.js');

describe('config', () => {
  it('has defaults for a bare machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ HOST: '127.0.0.1', PORT: 8080, LOG_LEVEL: 'info', MIGRATE_ON_START: true, CACHE_MAX_STALENESS_MS: 5000 });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
  });

  it('takes one Redis mode at a time: a server, a Cluster or Sentinels, each with what it needs', () => {
    const one = 'set one of them only (one Redis: a single server, a Cluster or a Sentinel-watched master)';
    const url = { REDIS_URL: 'redis://127.0.0.1:6379' };
    const cluster = { REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001,[::1]:7002' };
    const sentinel = { REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'mymaster' };
    expect(loadConfig(cluster).REDIS_CLUSTER_NODES).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(loadConfig(sentinel)).toMatchObject({ REDIS_SENTINELS: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }], REDIS_SENTINEL_NAME: 'mymaster' });
    expect(() => loadConfig({ ...url, ...cluster })).toThrow(new ConfigError(`Invalid configuration:\n  REDIS_URL, REDIS_CLUSTER_NODES: ${one}`));
    expect(() => loadConfig({ ...url, ...cluster, ...sentinel })).toThrow(new ConfigError(`Invalid configuration:\n  REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS: ${one}`));
    expect(() => loadConfig({ ...cluster, ...sentinel })).toThrow(new ConfigError(`Invalid configuration:\n  REDIS_CLUSTER_NODES, REDIS_SENTINELS: ${one}`));
    expect(() => loadConfig({ REDIS_SENTINELS: 's1:26379' })).toThrow(
      new ConfigError('Invalid configuration:\n  REDIS_SENTINEL_NAME: required when REDIS_SENTINELS is set (the master name the Sentinels monitor)'),
    );
    expect(() => loadConfig({ ...cluster, REDIS_SENTINEL_NAME: 'mymaster' })).toThrow(/REDIS_SENTINEL_NAME: only used with REDIS_SENTINELS, which is not set/);
    expect(() => loadConfig({ ...url, REDIS_PASSWORD: 'secret' })).toThrow(
      new ConfigError('Invalid configuration:\n  REDIS_PASSWORD: only used with REDIS_CLUSTER_NODES or REDIS_SENTINELS (REDIS_URL carries its own: redis://user:password@host:port)'),
    );
    expect(loadConfig({ ...cluster, REDIS_PASSWORD: 'secret' }).REDIS_PASSWORD).toBe('secret');
    for (const bad of ['redis-a', 'redis-a:0', 'redis-a:70000', 'a:1,,b:2', '::1:7000', 'redis://a:1']) {
      expect(() => loadConfig({ REDIS_CLUSTER_NODES: bad })).toThrow(
        new ConfigError(`Invalid configuration:\n  REDIS_CLUSTER_NODES: must be host:port items separated by commas (an IPv6 address in brackets) (got ${JSON.stringify(bad)})`),
      );
    }
  });

  it('PostgreSQL pool size, statement timeout and read URL', () => {
    expect(loadConfig({})).toMatchObject({ DATABASE_POOL_SIZE: 10, DATABASE_STATEMENT_TIMEOUT_MS: 30_000 });
    expect(loadConfig({ DATABASE_POOL_SIZE: '40', DATABASE_STATEMENT_TIMEOUT_MS: '0' })).toMatchObject({ DATABASE_POOL_SIZE: 40, DATABASE_STATEMENT_TIMEOUT_MS: 0 });
    expect(() => loadConfig({ DATABASE_POOL_SIZE: '0' })).toThrow(/DATABASE_POOL_SIZE: must be a whole number from 1 to 1000 \(got "0"\)/);
    expect(() => loadConfig({ DATABASE_READ_URL: 'postgres://replica/db' })).toThrow(
      new ConfigError('Invalid configuration:\n  DATABASE_READ_URL: needs DATABASE_URL (the primary that says which version each read must reach)'),
    );
    expect(loadConfig({ DATABASE_URL: 'postgres://primary/db', DATABASE_READ_URL: 'postgres://replica/db' }).DATABASE_READ_URL).toBe('postgres://replica/db');
  });

  it('CACHE_MAX_DEGRADED_MS: 30 s by default, 0 allowed (never answer from cache once PostgreSQL is needed), a bad value one line', () => {
    expect(loadConfig({}).CACHE_MAX_DEGRADED_MS).toBe(30_000);
    expect(loadConfig({ CACHE_MAX_DEGRADED_MS: '0' }).CACHE_MAX_DEGRADED_MS).toBe(0);
    expect(() => loadConfig({ CACHE_MAX_DEGRADED_MS: '-1' })).toThrow(
      new ConfigError('Invalid configuration:\n  CACHE_MAX_DEGRADED_MS: must be a whole number of milliseconds from 0 to 86400000 (got "-1")'),
    );
  });

  it('CACHE_L2_WAIT_MS: 5 ms by default, at least 1 (0 would skip L2 for every load), a bad value one line', () => {
    expect(loadConfig({}).CACHE_L2_WAIT_MS).toBe(5);
    expect(loadConfig({ CACHE_L2_WAIT_MS: '60000' }).CACHE_L2_WAIT_MS).toBe(60_000);
    expect(() => loadConfig({ CACHE_L2_WAIT_MS: '0' })).toThrow(
      new ConfigError('Invalid configuration:\n  CACHE_L2_WAIT_MS: must be a whole number of milliseconds from 1 to 60000 (got "0")'),
    );
  });

  it('a bad PORT is a clear error', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(new ConfigError('Invalid configuration:\n  PORT: must be a whole number from 0 to 65535 (got "eighty")'));
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT: must be a whole number from 0 to 65535/);
  });

  it('a bad DATABASE_URL is a clear error that does not echo the value', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://user:secret@db/x' })).toThrow(
      new ConfigError('Invalid configuration:\n  DATABASE_URL: must be a URL starting with postgres:// or postgresql://'),
    );
  });

  it('a short OPERATOR_TOKEN is refused without echoing it', () => {
    expect(() => loadConfig({ OPERATOR_TOKEN: 'too-short-for-the-platform' })).toThrow(
      new ConfigError('Invalid configuration:\n  OPERATOR_TOKEN: must be at least 32 characters'),
    );
    expect(loadConfig({ OPERATOR_TOKEN: 'x'.repeat(32) }).OPERATOR_TOKEN).toBe('x'.repeat(32));
    expect(loadConfig({ OPERATOR_TOKEN: '' }).OPERATOR_TOKEN).toBeUndefined();
  });

  it('PUBLIC_URL is an http(s) base URL without query or fragment, kept without its trailing slash', () => {
    expect(loadConfig({}).PUBLIC_URL).toBeUndefined();
    expect(loadConfig({ PUBLIC_URL: 'https://authz.example.com/' }).PUBLIC_URL).toBe('https://authz.example.com');
    expect(loadConfig({ PUBLIC_URL: 'https://example.com/castellan' }).PUBLIC_URL).toBe('https://example.com/castellan');
    expect(() => loadConfig({ PUBLIC_URL: 'ftp://example.com' })).toThrow(/PUBLIC_URL: must be a URL starting with http:\/\/ or https:\/\//);
    expect(() => loadConfig({ PUBLIC_URL: 'https://example.com/?tenant=1' })).toThrow(/PUBLIC_URL: must have no query or fragment/);
  });

  it('trusts token emails without email_verified only when AUTH_TRUST_EMAILS says so', () => {
    expect(loadConfig({}).AUTH_TRUST_EMAILS).toBe(false);
    expect(loadConfig({ AUTH_TRUST_EMAILS: 'true' }).AUTH_TRUST_EMAILS).toBe(true);
    expect(loadConfig({ AUTH_TRUST_EMAILS: 'false' }).AUTH_TRUST_EMAILS).toBe(false);
    expect(() => loadConfig({ AUTH_TRUST_EMAILS: 'yes' })).toThrow(/AUTH_TRUST_EMAILS: .*\(got "yes"\)/);
  });

  it('refuses a JWKS without both an audience and an issuer, naming the missing variables on one line', () => {
    const jwks = { AUTH_JWKS_URL: 'https://idp.example.test/.well-known/jwks.json' };
    const why = 'required when AUTH_JWKS_URL is set, else tokens the identity provider issued to other applications are accepted';
    expect(() => loadConfig(jwks)).toThrow(new ConfigError(`Invalid configuration:\n  AUTH_ISSUER, AUTH_AUDIENCE: ${why}`));
    expect(() => loadConfig({ ...jwks, AUTH_ISSUER: 'https://idp.example.test/' })).toThrow(new ConfigError(`Invalid configuration:\n  AUTH_AUDIENCE: ${why}`));
    expect(() => loadConfig({ ...jwks, AUTH_AUDIENCE: 'castellan-api' })).toThrow(new ConfigError(`Invalid configuration:\n  AUTH_ISSUER: ${why}`));
    expect(loadConfig({ ...jwks, AUTH_ISSUER: 'https://idp.example.test/', AUTH_AUDIENCE: 'castellan-api' }).AUTH_JWKS_URL).toBe(jwks.AUTH_JWKS_URL);
    // An HS256 secret is for development and tests; it does not need them.
    expect(loadConfig({ AUTH_JWT_SECRET: 'x'.repeat(32) }).AUTH_AUDIENCE).toBeUndefined();
  });

  it('a JWKS without audience and issuer stops the server with that one line', () => {
    // Were it to start anyway, it would do so harmlessly: a free port, no data on disk.
    const env = { ...process.env, PORT: '0', DATA_DIR: 'memory://', DATABASE_URL: '', AUTH_JWKS_URL: 'https://idp.example.test/.well-known/jwks.json', AUTH_ISSUER: '', AUTH_AUDIENCE: '' };
    const run = spawnSync(process.execPath, [main], { env, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      'Invalid configuration:\n  AUTH_ISSUER, AUTH_AUDIENCE: required when AUTH_JWKS_URL is set, else tokens the identity provider issued to other applications are accepted',
    );
  });

  it('reports every problem at once', () => {
    expect(() => loadConfig({ PORT: '-1', LOG_LEVEL: 'loud', REDIS_URL: 'http://x' })).toThrow(/PORT[\s\S]*REDIS_URL[\s\S]*LOG_LEVEL|PORT[\s\S]*LOG_LEVEL/);
  });

  it('the scrypt line: one hash at a time, sixteen waiting; bad values one line each', () => {
    expect(loadConfig({})).toMatchObject({ SCRYPT_CONCURRENCY: 1, SCRYPT_QUEUE: 16 });
    expect(loadConfig({ SCRYPT_CONCURRENCY: '3', SCRYPT_QUEUE: '0' })).toMatchObject({ SCRYPT_CONCURRENCY: 3, SCRYPT_QUEUE: 0 });
    expect(() => loadConfig({ SCRYPT_CONCURRENCY: '0', SCRYPT_QUEUE: 'lots' })).toThrow(
      new ConfigError(
        'Invalid configuration:\n  SCRYPT_CONCURRENCY: must be a whole number from 1 to 16 (got "0")\n  SCRYPT_QUEUE: must be a whole number from 0 to 1000 (got "lots")',
      ),
    );
    expect(() => loadConfig({ SCRYPT_CONCURRENCY: '1.5' })).toThrow(/SCRYPT_CONCURRENCY: must be a whole number from 1 to 16 \(got "1.5"\)/);
  });

  it('connection limits: header and request timeouts and a connection cap, each validated on its own line', () => {
    expect(loadConfig({})).toMatchObject({ HTTP_HEADERS_TIMEOUT_MS: 10_000, HTTP_REQUEST_TIMEOUT_MS: 30_000, HTTP_MAX_CONNECTIONS: 4096 });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '10', HTTP_REQUEST_TIMEOUT_MS: 'soon', HTTP_MAX_CONNECTIONS: '0' })).toThrow(
      new ConfigError(
        [
          'Invalid configuration:',
          '  HTTP_HEADERS_TIMEOUT_MS: must be a whole number of milliseconds from 1000 to 600000 (got "10")',
          '  HTTP_REQUEST_TIMEOUT_MS: must be a whole number of milliseconds from 1000 to 3600000 (got "soon")',
          '  HTTP_MAX_CONNECTIONS: must be a whole number from 1 to 1000000 (got "0")',
        ].join('\n'),
      ),
    );
    // Node refuses a header timeout longer than the request's: said here rather than as a stack at listen.
    expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '5000' })).toThrow(
      new ConfigError('Invalid configuration:\n  HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (5000)'),
    );
    expect(loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '5000' })).toMatchObject({ HTTP_HEADERS_TIMEOUT_MS: 5000 });
  });

  it('INVITATION_TTL: a duration in s, m, h or d, 14 days by default, 1 minute to 365 days', () => {
    expect(loadConfig({}).INVITATION_TTL).toBe(14 * 86_400);
    expect(loadConfig({ INVITATION_TTL: '36h' }).INVITATION_TTL).toBe(36 * 3600);
    expect(loadConfig({ INVITATION_TTL: '90m' }).INVITATION_TTL).toBe(5400);
    expect(loadConfig({ INVITATION_TTL: '60s' }).INVITATION_TTL).toBe(60);
    expect(loadConfig({ INVITATION_TTL: '365d' }).INVITATION_TTL).toBe(365 * 86_400);
    expect(() => loadConfig({ INVITATION_TTL: '14' })).toThrow(new ConfigError('Invalid configuration:\n  INVITATION_TTL: must be a duration such as 14d, 36h, 90m or 3600s (got "14")'));
    expect(() => loadConfig({ INVITATION_TTL: '59s' })).toThrow(/INVITATION_TTL: must be from 1 minute to 365 days \(got "59s"\)/);
    expect(() => loadConfig({ INVITATION_TTL: '366d' })).toThrow(/INVITATION_TTL: must be from 1 minute to 365 days/);
    expect(() => loadConfig({ INVITATION_TTL: '2w' })).toThrow(/INVITATION_TTL: must be a duration/);
  });

  it('INVITE_URL_TEMPLATE: an http(s) URL with known placeholders only', () => {
    const template = 'https://app.example.com/invitations?company={company}&invitation={invitation}&email={email}';
    expect(loadConfig({ INVITE_URL_TEMPLATE: template }).INVITE_URL_TEMPLATE).toBe(template);
    expect(() => loadConfig({ INVITE_URL_TEMPLATE: 'https://app.example.com/{token}' })).toThrow(
      new ConfigError('Invalid configuration:\n  INVITE_URL_TEMPLATE: may only use the placeholders {company}, {invitation}, {email}'),
    );
    expect(() => loadConfig({ INVITE_URL_TEMPLATE: 'javascript:alert({email})' })).toThrow(/INVITE_URL_TEMPLATE: must be an http:\/\/ or https:\/\/ URL once its placeholders are filled/);
  });

  it('WEBHOOK_URL and WEBHOOK_SECRET come together; retry bounds are ordered', () => {
    const secret = 's'.repeat(32);
    expect(loadConfig({ WEBHOOK_URL: 'https://hooks.example.com/castellan', WEBHOOK_SECRET: secret })).toMatchObject({
      WEBHOOK_TIMEOUT_MS: 10_000,
      WEBHOOK_RETRY_BASE_MS: 1000,
      WEBHOOK_RETRY_MAX_MS: 3_600_000,
      WEBHOOK_POLL_MS: 1000,
    });
    expect(() => loadConfig({ WEBHOOK_URL: 'https://hooks.example.com/castellan' })).toThrow(
      new ConfigError('Invalid configuration:\n  WEBHOOK_SECRET: required when WEBHOOK_URL is set, to sign every delivery'),
    );
    expect(() => loadConfig({ WEBHOOK_SECRET: secret })).toThrow(/WEBHOOK_URL: required when WEBHOOK_SECRET is set/);
    // The secret is never echoed.
    expect(() => loadConfig({ WEBHOOK_URL: 'https://hooks.example.com/castellan', WEBHOOK_SECRET: 'short-secret' })).toThrow(
      new ConfigError('Invalid configuration:\n  WEBHOOK_SECRET: must be at least 32 characters'),
    );
    expect(() => loadConfig({ WEBHOOK_URL: 'ftp://hooks.example.com' , WEBHOOK_SECRET: secret })).toThrow(/WEBHOOK_URL: must be a URL starting with http:\/\/ or https:\/\//);
    expect(() => loadConfig({ WEBHOOK_RETRY_BASE_MS: '5000', WEBHOOK_RETRY_MAX_MS: '1000' })).toThrow(/WEBHOOK_RETRY_BASE_MS: must not exceed WEBHOOK_RETRY_MAX_MS \(1000\)/);
  });

  it('the server exits with the message, not a stack trace', () => {
    const run = spawnSync(process.execPath, [main], { env: { ...process.env, PORT: 'eighty', DATABASE_URL: 'nope' }, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      'Invalid configuration:\n  PORT: must be a whole number from 0 to 65535 (got "eighty")\n  DATABASE_URL: must be a URL starting with postgres:// or postgresql://',
    );
  });
});

describe('isLoopback: parsed, not prefix-matched', () => {
  it.each(['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])('%s is loopback', (host) => {
    expect(isLoopback(host)).toBe(true);
  });

  // Names that only look like loopback resolve wherever their DNS says: the check token must not be skipped for them.
  it.each(['127.x.example.com', '127.0.0.1.example.com', '127.evil', 'localhost.example.com', '127.1', '0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'fe80::1', ''])(
    '%s is not',
    (host) => {
      expect(isLoopback(host)).toBe(false);
    },
  );

  it('a HOST that only starts like a loopback address needs CHECK_TOKEN', async () => {
    await expect(createCastellan(loadConfig({ HOST: '127.x.example.com', LOG_LEVEL: 'silent', DATA_DIR: 'memory://' }))).rejects.toThrow(
      new ConfigError('Invalid configuration:\n  CHECK_TOKEN: required when HOST (127.x.example.com) is not a loopback address'),
    );
  });
});
