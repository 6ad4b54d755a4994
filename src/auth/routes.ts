import { Router } from 'express';
import { z } from 'zod';
import { mountRoutes, openRoute, type Route } from '../http/route.js';
import { hasControlCharacters, NO_CONTROL_CHARACTERS } from '../http/text.js';
import { idSchema } from '../policy/catalog.js';
import type { CastellanAuth } from './auth.js';

const tokenRequestSchema = z.strictObject({
  company: idSchema,
  login: z.string().min(1).max(256).refine((login) => !hasControlCharacters(login), NO_CONTROL_CHARACTERS),
  // Bounded so a huge body cannot buy a long hash; scrypt itself takes any length.
  password: z.string().min(1).max(1024),
});

const tokenResponseSchema = z.object({
  accessToken: z.string().describe('ES256 JWT signed by Castellan; sub is the local user id'),
  expiresIn: z.number().int().describe('seconds'),
  tokenType: z.literal('Bearer'),
});

const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

/** `POST /v1/auth/token` (local users) and `GET /.well-known/jwks.json`, as data. */
export function authRoutes(auth: CastellanAuth): Route[] {
  return [
    openRoute({
      method: 'post',
      path: '/v1/auth/token',
      summary: "A local user's access token for login and password (D3)",
      tag: 'Authentication',
      security: 'none',
      body: tokenRequestSchema,
      success: { status: 200, description: 'the access token', schema: tokenResponseSchema },
      errors: ['unauthenticated', 'forbidden', 'too_many_requests', 'unavailable'],
      // A bearer token in a response must not be kept by caches on the way (RFC 6749 §5.1).
      handle: async ({ body }) => ({ body: await auth.login(body), headers: { 'cache-control': 'no-store' } }),
    }),
    openRoute({
      method: 'get',
      path: '/.well-known/jwks.json',
      summary: "Public keys of Castellan's own tokens",
      tag: 'Authentication',
      security: 'none',
      success: { status: 200, description: 'a JSON Web Key Set', schema: jwksSchema },
      errors: ['unavailable'],
      handle: async () => ({ body: await auth.publicJwks(), headers: { 'cache-control': 'public, max-age=300' } }),
    }),
  ];
}

export function createAuthRouter(routes: readonly Route[]): Router {
  const router = Router();
  mountRoutes(router, routes, {});
  return router;
}
