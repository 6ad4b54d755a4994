import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const main = path.resolve(import.meta.dirname, '../dist/main.js');

describe('config', () => {
  it('has defaults for a bare machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ HOST: '127.0.0.1', PORT: 8080, LOG_LEVEL: 'info', MIGRATE_ON_START: true, CACHE_MAX_STALENESS_MS: 5000 });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
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

  it('reports every problem at once', () => {
    expect(() => loadConfig({ PORT: '-1', LOG_LEVEL: 'loud', REDIS_URL: 'http://x' })).toThrow(/PORT[\s\S]*REDIS_URL[\s\S]*LOG_LEVEL|PORT[\s\S]*LOG_LEVEL/);
  });

  it('the server exits with the message, not a stack trace', () => {
    const run = spawnSync(process.execPath, [main], { env: { ...process.env, PORT: 'eighty', DATABASE_URL: 'nope' }, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      'Invalid configuration:\n  PORT: must be a whole number from 0 to 65535 (got "eighty")\n  DATABASE_URL: must be a URL starting with postgres:// or postgresql://',
    );
  });
});
