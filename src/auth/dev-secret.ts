import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isLoopback, type Config } from '../config.js';

/** The file, in the embedded data directory, that keeps the development signing secret. */
export const DEV_SECRET_FILE = 'dev-jwt-secret';

/**
 * Whether this instance may make up a development secret for platform users' tokens: only in
 * embedded mode (no DATABASE_URL, data on disk), listening on loopback, with no identity
 * provider configured. A deployment (PostgreSQL, or a non-loopback address such as the
 * image's 0.0.0.0) never gets one unless it sets AUTH_JWT_SECRET itself.
 */
export function devSecretAllowed(config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR' | 'HOST' | 'AUTH_JWT_SECRET' | 'AUTH_JWKS_URL'>): boolean {
  return !config.DATABASE_URL && !config.DATA_DIR.startsWith('memory://') && isLoopback(config.HOST) && !config.AUTH_JWT_SECRET && !config.AUTH_JWKS_URL;
}

/**
 * The development secret of an embedded instance: read from DATA_DIR, or made and kept there
 * (owner-only) on the first start, so `npm run console:link` can sign tokens it accepts.
 * Whoever reads the data directory can sign in as anyone, as whoever reads the database
 * can already mint local users' tokens.
 */
export function embeddedDevSecret(config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR' | 'HOST' | 'AUTH_JWT_SECRET' | 'AUTH_JWKS_URL'>): string | undefined {
  if (!devSecretAllowed(config)) return undefined;
  const file = path.join(config.DATA_DIR, DEV_SECRET_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(config.DATA_DIR, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  // 'wx': two instances starting together on one directory keep the first one's secret.
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readFileSync(file, 'utf8').trim();
  }
  return secret;
}
