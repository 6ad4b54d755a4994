import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWK, type JWTPayload } from 'jose';
import type { Kysely } from 'kysely';
import type { MembershipStatus } from '../../src/policy/types.js';
import type { Database } from '../../src/store/schema.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { api, TEST_JWT_SECRET, type JsonResponse } from '../support/app.js';

/** A check question every seeded user with a grant on p1 is allowed to ask. */
export function checkWithToken(url: string, token: string, company = 'acme'): Promise<JsonResponse> {
  return api(url, 'POST', '/v1/check', { company, principal: { token }, action: 'view', resource: { type: 'Project', id: 'p1' } });
}

export const unauthenticated = (message: string) => ({ error: { code: 'unauthenticated', message } });

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** An HS256 token with exactly the claims given (no defaults), e.g. without `exp`. */
export function signRaw(claims: JWTPayload, secret = TEST_JWT_SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}

export interface LocalUser {
  id: string;
  login: string;
  password: string;
}

/** A local user as the members API will leave one: users row, credentials, membership (and a grant on p1). */
export async function seedLocalUser(
  db: Kysely<Database>,
  company: string,
  login: string,
  options: { status?: MembershipStatus; password?: string; grant?: boolean } = {},
): Promise<LocalUser> {
  const id = `local:${randomUUID()}`;
  const password = options.password ?? `pw-${login}-0123456789`;
  await db.insertInto('users').values({ id, kind: 'local', email: null }).execute();
  await db.insertInto('memberships').values({ company_id: company, user_id: id, role: 'collaborator', status: options.status ?? 'active' }).execute();
  await db
    .insertInto('local_credentials')
    .values({ user_id: id, company_id: company, login, password_hash: await hashPassword(password), first_name: 'Ada', last_name: 'Lovelace' })
    .execute();
  if (options.grant ?? true) {
    await db.insertInto('project_grants').values({ company_id: company, project_id: 'p1', role_key: 'viewer', user_id: id }).execute();
  }
  return { id, login, password };
}

/** A JWKS served by the test on loopback; `keys` can be swapped to rotate, `fetches` counts requests. */
export interface JwksServer {
  url: string;
  keys: JWK[];
  fetches: number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  let server: Server;
  const state: JwksServer = {
    url: '',
    keys,
    fetches: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  server = createServer((req, res) => {
    state.fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  return state;
}
