import { SignJWT } from 'jose';
import type { Config } from '../config.js';
import { readDevSecret, usesDevSecret } from './dev-secret.js';

/**
 * Development tokens, as a development identity provider would issue them: HS256, signed
 * with AUTH_JWT_SECRET or, in embedded mode with nothing configured, with the secret the
 * server generated in DATA_DIR. Shared by `npm run dev-token` and `npm run demo`, so both
 * sign what the server accepts.
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

export interface DevTokenClaims {
  sub: string;
  /** Marked verified (email_verified), as a real provider says of addresses it checked. */
  email?: string | undefined;
  minutes: number;
}

export async function signDevToken(config: Config, secret: string, claims: DevTokenClaims): Promise<string> {
  let token = new SignJWT(claims.email ? { email: claims.email, email_verified: true } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(`${claims.minutes}m`);
  if (config.AUTH_ISSUER) token = token.setIssuer(config.AUTH_ISSUER);
  if (config.AUTH_AUDIENCE) token = token.setAudience(config.AUTH_AUDIENCE);
  return token.sign(new TextEncoder().encode(secret));
}
