import { SignJWT } from 'jose';
import type { Config } from '../config.js';
import { readDevSecret, usesDevSecret } from './dev-secret.js';

/**
 * An HS256 token as a development identity provider would issue it; an email given counts as
 * verified (email_verified), as a real provider says of addresses it checked.
 */
export function signDevToken(config: Pick<Config, 'AUTH_ISSUER' | 'AUTH_AUDIENCE'>, secret: string, sub: string, email: string | undefined, minutes: number): Promise<string> {
  let token = new SignJWT(email ? { email, email_verified: true } : {}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime(`${minutes}m`);
  if (config.AUTH_ISSUER) token = token.setIssuer(config.AUTH_ISSUER);
  if (config.AUTH_AUDIENCE) token = token.setAudience(config.AUTH_AUDIENCE);
  return token.sign(new TextEncoder().encode(secret));
}

/**
 * What development tokens are signed with, as the server verifies them: AUTH_JWT_SECRET, else
 * the secret an embedded instance keeps in DATA_DIR; or why there is nothing to sign with.
 * Shared by `npm run dev-token` and `npm run demo`.
 */
export type DevSigningKey = { secret: string } | { problem: string };

export function devSigningKey(config: Config): DevSigningKey {
  if (config.AUTH_JWT_SECRET) return { secret: config.AUTH_JWT_SECRET };
  const generated = usesDevSecret(config) ? readDevSecret(config.DATA_DIR) : undefined;
  if (generated) return { secret: generated };
  return {
    problem: usesDevSecret(config)
      ? `no development secret in ${config.DATA_DIR} yet: start the server once (npm start), which creates it`
      : 'no secret to sign with: set AUTH_JWT_SECRET (32+ characters), the one the server is configured with',
  };
}
