import { SignJWT } from 'jose';
import type { Config } from '../config.js';

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
