import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { UnauthenticatedError } from '../errors.js';
import type { Logger } from '../log.js';

/** Who a verified token speaks for. */
export interface TokenClaims {
  sub: string;
  email?: string;
}

export interface AuthConfig {
  jwtSecret?: string | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}

export interface Auth {
  /** Verifies a bearer token (external issuer or Castellan's own); throws UnauthenticatedError. */
  verify(token: string): Promise<TokenClaims>;
}

// Placeholder until the authentication work lands: refuses every token (fail closed).
export async function createAuth(_deps: { db: Kysely<Database>; config: AuthConfig; logger: Logger }): Promise<Auth> {
  return {
    verify: async () => {
      throw new UnauthenticatedError('token verification is not configured');
    },
  };
}
