import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/passwords.js';
import { addMember, adminClient, createCompany } from '../support/admin.js';
import { api, createTestEnvironment, type JsonResponse, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedLocalUser } from './support.js';

/** CPU time of this whole process (every thread, so scrypt on libuv's pool too) spent while `work` runs. */
async function cpuMsOf<T>(work: () => Promise<T>): Promise<{ result: T; cpuMs: number }> {
  const before = process.cpuUsage();
  const result = await work();
  const used = process.cpuUsage(before);
  return { result, cpuMs: (used.user + used.system) / 1000 };
}

/** What one scrypt hash costs here and now, so the assertions below hold on a slow or a loaded machine alike. */
async function oneHashCpuMs(): Promise<number> {
  const { cpuMs } = await cpuMsOf(async () => {
    for (let i = 0; i < 4; i += 1) await hashPassword('calibration-password');
  });
  return cpuMs / 4;
}

function expectBusy(response: JsonResponse): void {
  expect(response.body.error).toMatchObject({ code: 'too_many_requests', details: { retryAfterSeconds: expect.any(Number) } });
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(response.body.error.details.retryAfterSeconds).toBe(retryAfter);
}

/**
 * scrypt is the costliest thing Castellan does for an anonymous caller (tens of ms of CPU
 * each). Nobody gets one without a reason: strangers creating local users are refused
 * before the hash, and hashes wait in a short line; beyond it, 429 at once.
 */
describe.skipIf(!servicesUp)('the scrypt budget', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let hashCpuMs: number;

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    const owner = adminClient(app.url, 'olga');
    await createCompany(owner, 'acme');
    await addMember(app.app.store.db, 'acme', 'carl', 'collaborator');
    hashCpuMs = await oneHashCpuMs();
  });
  afterAll(() => env?.close());

  it('POST /local-users by strangers and members without create Member costs no hash', async () => {
    const body = { login: 'lou', password: 'a long enough password', firstName: 'Lou', lastName: 'Local', role: 'collaborator' };
    const sam = adminClient(app.url, 'sam');
    const carl = adminClient(app.url, 'carl');
    await sam.post('/v1/companies/acme/local-users', body); // warm: the first request compiles code paths
    const { result: answers, cpuMs } = await cpuMsOf(() =>
      Promise.all([
        ...Array.from({ length: 8 }, () => sam.post('/v1/companies/acme/local-users', body)),
        ...Array.from({ length: 8 }, (_, i) => sam.post(`/v1/companies/nowhere-${i}/local-users`, body)),
        ...Array.from({ length: 8 }, () => carl.post('/v1/companies/acme/local-users', body)),
      ]),
    );
    expect(answers.map((a) => a.status)).toEqual([...Array(16).fill(404), ...Array(8).fill(403)]);
    // 24 hashes would cost 24 × hashCpuMs; the refusals themselves cost a token check and a read each.
    expect(cpuMs).toBeLessThan((24 * hashCpuMs) / 3);
  });

  it('a burst of 200 logins, each for another login, hashes a bounded few, refuses the rest with 429, and /healthz stays fast', async () => {
    const started = performance.now();
    let bursting = true;
    const probe = async () => {
      const latencies: number[] = [];
      while (bursting) {
        const sent = performance.now();
        const health = await api(app.url, 'GET', '/healthz');
        expect(health.status).toBe(200);
        latencies.push(performance.now() - sent);
        await sleep(10);
      }
      return latencies;
    };
    const probing = probe();
    const { result: answers, cpuMs } = await cpuMsOf(async () => {
      const burst = await Promise.all(
        Array.from({ length: 200 }, (_, i) => api(app.url, 'POST', '/v1/auth/token', { company: 'acme', login: `rotating-${i}`, password: 'guess-number-one' })),
      );
      bursting = false;
      return burst;
    });
    const burstMs = performance.now() - started;
    const latencies = await probing;

    const refused = answers.filter((a) => a.status === 429);
    const checked = answers.filter((a) => a.status === 401);
    expect(refused.length + checked.length).toBe(200);
    for (const a of checked) expect(a.body.error).toMatchObject({ code: 'unauthenticated', message: 'invalid login or password' });
    for (const a of refused) expectBusy(a);
    // Each new login brings a fresh lockout allowance: only the line's length bounds the work.
    expect(refused.length).toBeGreaterThanOrEqual(100);
    expect(cpuMs).toBeLessThan((200 * hashCpuMs) / 2);

    // The event loop never waits on scrypt: health checks answer throughout, each far quicker than the burst.
    expect(latencies.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...latencies)).toBeLessThan(burstMs / 2);
  }, 120_000);

  it('once the line has drained, a real login goes through', async () => {
    const ada = await seedLocalUser(app.app.store.db, 'acme', 'ada', { grant: false });
    expect((await api(app.url, 'POST', '/v1/auth/token', { company: 'acme', login: 'ada', password: ada.password })).status).toBe(200);
  });

  describe('with a line of one running and one waiting', () => {
    let small: TestApp;
    beforeAll(async () => {
      small = await env.start({ SCRYPT_CONCURRENCY: '1', SCRYPT_QUEUE: '1' });
    });

    it('local users beyond the line are refused with 429 and Retry-After, the others created', async () => {
      const olga = adminClient(small.url, 'olga');
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => olga.post('/v1/companies/acme/local-users', { login: `burst-${i}`, password: 'a long enough password', firstName: 'B', lastName: `${i}`, role: 'collaborator' })),
      );
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s !== 201 && s !== 429)).toEqual([]);
      expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(2);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
      for (const a of answers.filter((x) => x.status === 429)) expectBusy(a);
    });

    it('a login refused for a full line is not counted toward its lockout', async () => {
      const bea = await seedLocalUser(small.app.store.db, 'acme', 'bea', { grant: false });
      const answers = await Promise.all(Array.from({ length: 4 }, () => api(small.url, 'POST', '/v1/auth/token', { company: 'acme', login: 'bea', password: 'wrong-password-123' })));
      const wrong = answers.filter((a) => a.status === 401).length;
      expect(wrong).toBeGreaterThanOrEqual(1);
      expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(1);
      for (const a of answers.filter((x) => x.status === 429)) expectBusy(a);
      const row = await small.app.store.db.selectFrom('local_credentials').select('failed_attempts').where('user_id', '=', bea.id).executeTakeFirstOrThrow();
      expect(row.failed_attempts).toBe(wrong);
    });
  });
});
