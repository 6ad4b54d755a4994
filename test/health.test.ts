import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, startApp, type TestEnvironment } from './support/app.js';
import { servicesUp } from './support/services.js';

describe('embedded mode (no DATABASE_URL, no REDIS_URL)', () => {
  // A fresh PGlite runs initdb first: tens of seconds on a loaded 2-core machine.
  it('boots on PGlite with the cache in process and answers checks', async () => {
    const instance = await startApp({ DATA_DIR: 'memory://' });
    try {
      expect(instance.app.mode).toEqual({ store: 'pglite', cache: 'in-process', redis: null });
      expect((await api(instance.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
      expect(await api(instance.url, 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready', checks: { postgres: 'ok' } } });
      const check = await api(instance.url, 'POST', '/v1/check', { company: 'acme', principal: { id: 'u1' }, action: 'view', resource: { type: 'Project', id: 'p1' } });
      expect(check).toMatchObject({ status: 200, body: { allowed: false, reason: 'company acme is not known', version: '0' } });
    } finally {
      await instance.close();
    }
  }, 120_000);
});

describe.skipIf(!servicesUp)('readiness with PostgreSQL and Redis', () => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await createTestEnvironment();
  });
  afterAll(() => env?.close());

  it('is ready when both are reachable', async () => {
    const { url } = await env.start();
    expect(await api(url, 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } } });
  });

  it('answers 503 naming Redis when Redis is unreachable', async () => {
    const { url } = await env.start({ REDIS_URL: 'redis://127.0.0.1:1' });
    const ready = await api(url, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({
      error: { code: 'unavailable', message: 'not ready: redis unreachable', details: { checks: { postgres: 'ok', redis: 'unreachable' } } },
    });
    expect((await api(url, 'GET', '/healthz')).status).toBe(200);
  });

  it('answers 503 naming PostgreSQL when PostgreSQL is unreachable', async () => {
    const instance = await env.start();
    await instance.app.store.close();
    const ready = await api(instance.url, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.error).toMatchObject({ code: 'unavailable', message: 'not ready: postgres unreachable' });
  });
  it('answers 503 naming PostgreSQL when it answers but cannot read the tables checks read (issue 18: select 1 said ready over damaged data)', async () => {
    const instance = await env.start();
    const db = instance.app.store.db;
    await sql`alter table policy_versions rename to policy_versions_away`.execute(db);
    try {
      expect(await api(instance.url, 'GET', '/readyz')).toMatchObject({ status: 503, body: { error: { code: 'unavailable', message: 'not ready: postgres unreachable' } } });
    } finally {
      await sql`alter table policy_versions_away rename to policy_versions`.execute(db);
    }
    expect(await api(instance.url, 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });
});
