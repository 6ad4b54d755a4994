import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, createCompany } from '../support/admin.js';
import { createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

describe.skipIf(!servicesUp)('admin API with PostgreSQL unreachable', () => {
  let env: TestEnvironment;
  let proxy: TcpProxy;
  let app: TestApp;

  beforeAll(async () => {
    env = await createTestEnvironment();
    await env.start(); // migrates the database
    proxy = await startTcpProxy('127.0.0.1', 5432);
    const url = new URL(env.database.url);
    url.port = String(proxy.port);
    app = await env.start({ DATABASE_URL: url.toString(), MIGRATE_ON_START: 'false' });
    await createCompany(adminClient(app.url, 'olga'), 'acme');
  });
  afterAll(async () => {
    await env?.close();
    await proxy?.close();
  });

  it('reads and writes answer 503 unavailable, and work again once it is back', async () => {
    const olga = adminClient(app.url, 'olga');
    await proxy.cut();
    for (const response of [await olga.get('/v1/companies/acme'), await olga.patch('/v1/companies/acme', { name: 'Acme 2' }), await olga.post('/v1/companies/acme/teams', { name: 'T' })]) {
      expect(response.status).toBe(503);
      expect(response.body.error).toEqual({ code: 'unavailable', message: 'the policy store is unreachable', details: { dependency: 'postgres' } });
    }
    await proxy.restore();
    expect((await olga.patch('/v1/companies/acme', { name: 'Acme 2' })).body).toMatchObject({ name: 'Acme 2' });
  });
});
