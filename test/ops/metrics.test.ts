import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, createCompany } from '../support/admin.js';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp, TEST_REDIS_URL } from '../support/services.js';
import { parsePrometheus, scrape, scrapeUntil, type Scrape } from './prometheus.js';

const OWNER = 'metrics-owner';
const viewProject = { company: 'acme', principal: { id: OWNER }, action: 'view', resource: { type: 'Project', id: 'p1' } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const lookups = (s: Scrape, tier: string, result: string) => s.value('castellan_cache_lookups_total', { tier, result });
const decisions = (s: Scrape, outcome: string) => s.value('castellan_decisions_total', { outcome });
const checkCount = (s: Scrape, endpoint: string) => s.value('castellan_check_duration_seconds_count', { endpoint });
const phaseCount = (s: Scrape, phase: string) => s.value('castellan_load_phase_duration_seconds_count', { phase });
const phaseCounts = (s: Scrape) => Object.fromEntries(['l2', 'version', 'store', 'compile'].map((phase) => [phase, phaseCount(s, phase)]));
const invalidations = (s: Scrape) => s.value('castellan_invalidations_received_total');

describe.skipIf(!servicesUp)('GET /metrics', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let redis: Redis;

  beforeAll(async () => {
    env = await createTestEnvironment();
    a = await env.start();
    b = await env.start();
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await env?.close();
  });

  it('serves Prometheus text with every Castellan series at 0 and the default process metrics', async () => {
    const response = await fetch(`${a.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const s = parsePrometheus(await response.text());
    expect(s.type('castellan_check_duration_seconds')).toBe('histogram');
    expect(s.type('castellan_compile_duration_seconds')).toBe('histogram');
    for (const outcome of ['allow', 'deny', 'error']) expect(decisions(s, outcome)).toBe(0);
    for (const tier of ['l1', 'l2']) for (const result of ['hit', 'miss']) expect(lookups(s, tier, result)).toBe(0);
    expect(lookups(s, 'l2', 'late')).toBe(0);
    for (const endpoint of ['check', 'batch']) expect(checkCount(s, endpoint)).toBe(0);
    for (const result of ['kept', 'reloaded']) expect(s.value('castellan_stale_refreshes_total', { result })).toBe(0);
    for (const dependency of ['postgres', 'redis']) expect(s.value('castellan_dependency_errors_total', { dependency })).toBe(0);
    expect(s.value('castellan_compile_duration_seconds_count')).toBe(0);
    expect(s.type('castellan_load_phase_duration_seconds')).toBe('histogram');
    expect(phaseCounts(s)).toEqual({ l2: 0, version: 0, store: 0, compile: 0 });
    expect(invalidations(s)).toBe(0);
    expect(s.type('castellan_admin_writes_total')).toBe('counter');
    // Webhooks are not configured here: the series exist, at 0.
    for (const result of ['delivered', 'failed']) expect(s.value('castellan_webhook_deliveries_total', { result })).toBe(0);
    expect(s.value('castellan_webhook_backlog_events')).toBe(0);
    expect(s.value('castellan_webhook_oldest_event_age_seconds')).toBe(0);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(s.names()).toContain(name);
    }
  });

  it('counts admin writes by route and status class, and invalidations on every instance', async () => {
    const owner = adminClient(a.url, OWNER);
    await createCompany(owner, 'acme');
    // The checks below are about p1, which must be registered (D15). Written straight into the
    // table, before anything has read the company, so the writes and notices counted stay this test's.
    await a.app.store.db.insertInto('projects').values({ company_id: 'acme', id: 'p1', name: 'p1' }).execute();
    const anonymous = await api(a.url, 'POST', '/v1/companies', { id: 'nope', name: 'Nope', plan: { name: 'business', userLicenses: 1, developerLicenses: 0 } });
    expect(anonymous.status).toBe(401);
    expect((await owner.get('/v1/companies/acme')).status).toBe(200);

    const s = await scrape(a.url);
    expect(s.value('castellan_admin_writes_total', { route: 'POST /v1/companies', status: '2xx' })).toBe(1);
    expect(s.value('castellan_admin_writes_total', { route: 'POST /v1/companies', status: '4xx' })).toBe(1);
    // Reads are not writes.
    expect(s.value('castellan_admin_writes_total', { route: 'GET /v1/companies/{company}', status: '2xx' })).toBeUndefined();

    // One write, one notice, heard by both instances (the writer is subscribed too).
    await scrapeUntil(b.url, (x) => invalidations(x) === 1, 'instance b to hear the notice');
    await scrapeUntil(a.url, (x) => invalidations(x) === 1, 'instance a to hear its own notice');
  });

  it('counts checks: latency by endpoint, decisions by outcome, an L1 and L2 miss then compile, then L1 hits', async () => {
    expect((await api(a.url, 'POST', '/v1/check', viewProject)).body).toMatchObject({ allowed: true });
    expect((await api(a.url, 'POST', '/v1/check', viewProject)).body).toMatchObject({ allowed: true });
    const batch = await api(a.url, 'POST', '/v1/check/batch', {
      company: 'acme',
      principal: { id: OWNER },
      checks: [
        { action: 'view', resource: { type: 'Project', id: 'p1' } },
        { action: 'edit', resource: { type: 'Project', id: 'p1' } },
        { action: 'view', resource: { type: 'Scenario', id: 's1', attributes: { projectId: 'p1' } } },
      ],
    });
    expect(batch.body.results.map((r: { allowed: boolean }) => r.allowed)).toEqual([true, true, false]);
    expect((await api(a.url, 'POST', '/v1/check', { ...viewProject, action: 'fly' })).status).toBe(400);

    const s = await scrape(a.url);
    expect(checkCount(s, 'check')).toBe(3);
    expect(checkCount(s, 'batch')).toBe(1);
    expect(decisions(s, 'allow')).toBe(4);
    expect(decisions(s, 'deny')).toBe(1);
    expect(decisions(s, 'error')).toBe(1);
    expect(lookups(s, 'l1', 'miss')).toBe(1);
    expect(lookups(s, 'l1', 'hit')).toBe(2);
    expect(lookups(s, 'l2', 'miss')).toBe(1);
    expect(lookups(s, 'l2', 'hit')).toBe(0);
    expect(s.value('castellan_compile_duration_seconds_count')).toBe(1);
    // The one cold load: an L2 miss, then the load statement and the compile; no separate version read.
    expect(phaseCounts(s)).toEqual({ l2: 1, version: 0, store: 1, compile: 1 });
    expect(s.value('castellan_load_phase_duration_seconds_bucket', { phase: 'store', le: '+Inf' })).toBe(1);
    // The histogram's buckets are cumulative: the +Inf bucket holds every observation.
    expect(s.value('castellan_check_duration_seconds_bucket', { endpoint: 'check', le: '+Inf' })).toBe(3);
  });

  it('another instance takes the principal from L2 without compiling', async () => {
    // The first instance writes L2 in the background; wait for the key, not for a time.
    const key = `${env.env.REDIS_KEY_PREFIX}*rules:acme ${OWNER}`;
    for (let i = 0; i < 200 && (await redis.keys(key)).length === 0; i++) await sleep(25);

    expect((await api(b.url, 'POST', '/v1/check', viewProject)).body).toMatchObject({ allowed: true });
    const s = await scrape(b.url);
    expect(lookups(s, 'l1', 'miss')).toBe(1);
    expect(lookups(s, 'l2', 'hit')).toBe(1);
    expect(lookups(s, 'l2', 'miss')).toBe(0);
    expect(s.value('castellan_compile_duration_seconds_count')).toBe(0);
    // Rules from L2 need only their company's version confirmed.
    expect(phaseCounts(s)).toEqual({ l2: 1, version: 1, store: 0, compile: 0 });
  });

  it('counts stale-entry refreshes: kept when the version is unchanged, reloaded when it moved', async () => {
    const c = await env.start({ CACHE_MAX_STALENESS_MS: '0' });
    expect((await api(c.url, 'POST', '/v1/check', viewProject)).status).toBe(200);
    // With a staleness bound of 0, any later check re-validates the entry against PostgreSQL.
    await sleep(5);
    expect((await api(c.url, 'POST', '/v1/check', viewProject)).status).toBe(200);
    let s = await scrape(c.url);
    expect(s.value('castellan_stale_refreshes_total', { result: 'kept' })).toBe(1);
    expect(s.value('castellan_stale_refreshes_total', { result: 'reloaded' })).toBe(0);

    const invite = await adminClient(a.url, OWNER).post('/v1/companies/acme/invitations', { email: 'new@example.test', role: 'collaborator' });
    expect(invite.status).toBe(201);
    await scrapeUntil(c.url, (x) => invalidations(x) === 1, 'instance c to hear the invitation');
    expect((await api(c.url, 'POST', '/v1/check', viewProject)).body).toMatchObject({ version: invite.body.version });
    s = await scrape(c.url);
    expect(s.value('castellan_stale_refreshes_total', { result: 'reloaded' })).toBe(1);
    expect(s.value('castellan_stale_refreshes_total', { result: 'kept' })).toBe(1);
    // Writes are counted where they are taken.
    const route = { route: 'POST /v1/companies/{company}/invitations', status: '2xx' };
    expect(s.value('castellan_admin_writes_total', route)).toBeUndefined();
    expect((await scrape(a.url)).value('castellan_admin_writes_total', route)).toBe(1);
  });

  it('counts a PostgreSQL error once per failed read, answered 503 and counted as an error decision', async () => {
    const d = await env.start();
    await d.app.store.close();
    const response = await api(d.url, 'POST', '/v1/check', { ...viewProject, principal: { id: 'never-cached' } });
    expect(response.status).toBe(503);
    const s = await scrape(d.url);
    expect(s.value('castellan_dependency_errors_total', { dependency: 'postgres' })).toBe(1);
    expect(decisions(s, 'error')).toBe(1);
  });

  it('counts Redis errors when Redis is unreachable', async () => {
    const e = await env.start({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect((await api(e.url, 'POST', '/v1/check', viewProject)).status).toBe(200);
    const s = await scrape(e.url);
    // Reconnection attempts are counted too, so how many is up to timing: at least the failed L2 read.
    expect(s.value('castellan_dependency_errors_total', { dependency: 'redis' })).toBeGreaterThanOrEqual(1);
    expect(s.value('castellan_dependency_errors_total', { dependency: 'postgres' })).toBe(0);
    // A lookup Redis could not answer is an error, not a miss (nor a hit, nor late: the test environment waits for it).
    expect([lookups(s, 'l2', 'hit'), lookups(s, 'l2', 'miss'), lookups(s, 'l2', 'late')]).toEqual([0, 0, 0]);
    expect(s.value('castellan_load_phase_duration_seconds_count', { phase: 'l2' })).toBe(1);
  });

  describe('with CHECK_TOKEN configured', () => {
    const token = 'metrics-check-token-0123456789';
    let guarded: TestApp;
    beforeAll(async () => {
      guarded = await env.start({ CHECK_TOKEN: token });
    });

    it('refuses a scrape without the token, or with another one', async () => {
      const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer not-the-token-0123456789' }, { authorization: token }];
      for (const headers of attempts) {
        const response = await api(guarded.url, 'GET', '/metrics', undefined, headers);
        expect(response.status).toBe(401);
        expect(response.body).toEqual({ error: { code: 'unauthenticated', message: 'a valid check token is required (Authorization: Bearer <CHECK_TOKEN>)' } });
      }
    });

    it('serves it with the token', async () => {
      const response = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      expect(parsePrometheus(await response.text()).value('castellan_decisions_total', { outcome: 'allow' })).toBe(0);
    });
  });
});
