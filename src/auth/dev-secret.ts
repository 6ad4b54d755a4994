import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLoopback } from '../config.js';

/**
 * Embedded mode's development identity provider: a secret generated on first start and kept
 * beside the data, so `npm run dev-token` signs tokens the server accepts with nothing to
 * configure. Only where the data is one person's (embedded PGlite on disk) and no identity
 * provider is configured; a deployment on PostgreSQL never gets one by surprise.
 */
export const DEV_SECRET_FILE = 'dev-secret';

export const devSecretPath = (dataDir: string) => join(dataDir, DEV_SECRET_FILE);

export function readDevSecret(dataDir: string): string | undefined {
  try {
    const secret = readFileSync(devSecretPath(dataDir), 'utf8').trim();
    return secret.length >= 32 ? secret : undefined;
  } catch {
    return undefined;
  }
}

/** The directory's secret, created (readable by its owner only) when it has none. */
export function ensureDevSecret(dataDir: string): { secret: string; created: boolean } {
  const existing = readDevSecret(dataDir);
  if (existing) return { secret: existing, created: false };
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(devSecretPath(dataDir), `${secret}\n`, { mode: 0o600 });
  return { secret, created: true };
}

/**
 * Whether this configuration gets the development secret: embedded on disk, listening on
 * loopback only, no identity provider set. Off loopback (the image's HOST=0.0.0.0) anyone
 * holding the data volume could mint any user's token: there an identity provider is required.
 */
export function usesDevSecret(config: { DATABASE_URL?: string | undefined; DATA_DIR: string; HOST: string; AUTH_JWT_SECRET?: string | undefined; AUTH_JWKS_URL?: string | undefined }): boolean {
  return !config.DATABASE_URL && !config.DATA_DIR.startsWith('memory://') && isLoopback(config.HOST) && !config.AUTH_JWT_SECRET && !config.AUTH_JWKS_URL;
}
