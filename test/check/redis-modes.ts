import { expect } from 'vitest';
import { api, createTestEnvironment, type JsonResponse, type TestApp, type TestEnvironment } from '../support/app.js';
import { adminClient } from '../support/admin.js';
import { seedCompany } from './seed.js';

/** What the Cluster and Sentinel tests share: two instances on one Redis, a company, and the questions asked. */
export const USERS = Array.from({ length: 40 }, (_, i) => `u${i + 1}`);

export const viewP1 = (user: string, minVersion?: string) => ({
  company: 'acme',
  principal: { id: user },
  action: 'view',
  resource: { type: 'Scenario', attributes: { projectId: 'p1' } },
  ...(minVersion ? { consistency: { minVersion } } : {}),
});

export const DENIED = { allowed: false, reason: 'no rule allows view Scenario' };

export async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() - started > timeoutMs) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface TwoInstances {
  env: TestEnvironment;
  a: TestApp;
  b: TestApp;
  check(instance: TestApp, user: string, minVersion?: string): Promise<JsonResponse>;
  /** Removes the user's grant on p1 through instance A's admin API; answers the write's version. */
  revoke(user: string): Promise<string>;
  /** Asks B until it denies `user` without minVersion, then answers the last reply. */
  untilBDenies(user: string, timeoutMs: number): Promise<JsonResponse>;
  close(): Promise<void>;
}

/**
 * Two instances on the Redis `redisEnv` names, with a staleness bound far beyond the test: only
 * a notice (or the cache cleared when the subscription is made again) lets B see A's writes.
 */
export async function startTwoInstances(redisEnv: Record<string, string>): Promise<TwoInstances> {
  const env = await createTestEnvironment({ REDIS_URL: '', ...redisEnv, CACHE_MAX_STALENESS_MS: '600000' });
  const a = await env.start();
  const b = await env.start();
  await seedCompany(a.app.store.db, a.app.policies, {
    id: 'acme',
    members: [{ id: 'boss', role: 'admin', owner: true }, ...USERS.map((id) => ({ id, role: 'collaborator' as const }))],
    projects: ['p1'],
    grants: USERS.map((user) => ({ project: 'p1', role: 'viewer', user })),
  });
  const check = (instance: TestApp, user: string, minVersion?: string) => api(instance.url, 'POST', '/v1/check', viewP1(user, minVersion));
  return {
    env,
    a,
    b,
    check,
    async revoke(user) {
      const response = await adminClient(a.url, 'boss').delete(`/v1/companies/acme/projects/p1/members/users/${user}`);
      expect(response.status).toBe(200);
      return response.body.version as string;
    },
    untilBDenies: (user, timeoutMs) => waitFor(() => check(b, user), (reply) => reply.status === 200 && reply.body.allowed === false, timeoutMs),
    close: () => env.close(),
  };
}
