import type { Kysely } from 'kysely';
import type { CompanyRole } from '../../src/policy/types.js';
import type { Database } from '../../src/store/schema.js';
import { api, operatorHeaders, signToken, type JsonResponse } from './app.js';

/** Calls the admin API as one platform user (an HS256 token as the identity provider would issue). */
export interface AdminClient {
  userId: string;
  get<T = any>(path: string, headers?: Record<string, string>): Promise<JsonResponse<T>>;
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<JsonResponse<T>>;
  put<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<JsonResponse<T>>;
  patch<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<JsonResponse<T>>;
  delete<T = any>(path: string, headers?: Record<string, string>): Promise<JsonResponse<T>>;
}

export function adminClient(baseUrl: string, userId: string, email: string | null = `${userId}@example.test`, token?: string): AdminClient {
  const auth = async (headers: Record<string, string> = {}) => ({
    // A verified address, as an identity provider says of the addresses it checked (invitations need one).
    authorization: `Bearer ${token ?? (await signToken(userId, email ? { email, email_verified: true } : {}))}`,
    ...headers,
  });
  return {
    userId,
    get: async (path, headers) => api(baseUrl, 'GET', path, undefined, await auth(headers)),
    post: async (path, body, headers) => api(baseUrl, 'POST', path, body, await auth(headers)),
    put: async (path, body, headers) => api(baseUrl, 'PUT', path, body, await auth(headers)),
    patch: async (path, body, headers) => api(baseUrl, 'PATCH', path, body, await auth(headers)),
    delete: async (path, headers) => api(baseUrl, 'DELETE', path, undefined, await auth(headers)),
  };
}

export const defaultPlan = { name: 'business', userLicenses: 10, developerLicenses: 2 };

/**
 * Creates a company through the API; its caller becomes owner and admin. The plan (and any
 * domains) are chosen as the platform would: with the operator credential beside the owner's token.
 */
export async function createCompany(owner: AdminClient, id: string, extra: Record<string, unknown> = {}): Promise<{ version: string; body: any }> {
  const response = await owner.post('/v1/companies', { id, name: `Company ${id}`, plan: defaultPlan, ...extra }, operatorHeaders());
  if (response.status !== 201) throw new Error(`creating company ${id} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return { version: response.body.version, body: response.body };
}

export interface SeedMemberOptions {
  status?: 'invited' | 'active' | 'inactive';
  applicationAccess?: boolean;
  developerAccess?: boolean;
  email?: string;
}

/**
 * Adds a platform user's membership straight into the database, for tests of other
 * resources that need members with given roles (the members API has its own tests).
 */
export async function addMember(db: Kysely<Database>, companyId: string, userId: string, role: CompanyRole, options: SeedMemberOptions = {}): Promise<void> {
  await db
    .insertInto('users')
    .values({ id: userId, kind: 'platform', email: options.email ?? `${userId}@example.test` })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  await db
    .insertInto('memberships')
    .values({
      company_id: companyId,
      user_id: userId,
      role,
      status: options.status ?? 'active',
      application_access: options.applicationAccess ?? false,
      developer_access: options.developerAccess ?? false,
    })
    .execute();
}

/** A company of its own per test, owned by a fresh admin: `next('roles')` gives `roles-1`, then `roles-2`... */
export function companySequence(baseUrl: () => string) {
  let seq = 0;
  return async (prefix: string): Promise<{ id: string; owner: AdminClient; version: string }> => {
    seq += 1;
    const id = `${prefix}-${seq}`;
    const owner = adminClient(baseUrl(), `owner-${id}`);
    const { version } = await createCompany(owner, id);
    return { id, owner, version };
  };
}
