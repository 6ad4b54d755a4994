import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken, type TestApp, type TestEnvironment } from '../../../test/support/app.js';
import { writeAndBump } from '../../../test/check/seed.js';
import { servicesUp } from '../../../test/support/services.js';
import { createCastellanClient, type CastellanClient } from '../src/index.js';
import { authorize, type CastellanDecision } from '../src/express.js';
import { startCastellan } from './support.js';

/** A service guarded by the middleware, in front of a real Castellan. */
async function startService(client: CastellanClient, onError?: (error: unknown) => void) {
  const app = express();
  const reached: string[] = [];
  const guard = (req: express.Request, res: express.Response) => {
    reached.push(req.path);
    res.json({ decision: req.castellan as CastellanDecision });
  };
  app.get(
    '/companies/:company/projects/:projectId',
    authorize(client, { action: 'view', company: (req) => String(req.params.company), resource: (req) => ({ type: 'Project', id: String(req.params.projectId) }), ...(onError ? { onError } : {}) }),
    guard,
  );
  app.patch('/companies/:company/branding', authorize(client, { action: 'edit', field: 'branding', company: (req) => String(req.params.company), resource: () => ({ type: 'CompanySettings' }) }), guard);
  app.get(
    '/as/:user/projects/:projectId',
    authorize(client, { action: 'view', company: () => 'acme', principal: (req) => ({ id: String(req.params.user) }), resource: (req) => ({ type: 'Project', id: String(req.params.projectId) }) }),
    guard,
  );
  app.get('/broken', authorize(client, { action: 'view', company: () => { throw new Error('no company here'); }, resource: () => ({ type: 'Project' }) }), guard);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, reached, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe.skipIf(!servicesUp)('@castellan/client/express', () => {
  let env: TestEnvironment;
  let castellan: TestApp;
  let service: Awaited<ReturnType<typeof startService>>;
  let token: string;
  beforeAll(async () => {
    // No staleness re-check during the file: only X-Castellan-Version makes an unannounced write visible.
    ({ env, app: castellan } = await startCastellan({ CACHE_MAX_STALENESS_MS: '600000' }));
    service = await startService(createCastellanClient({ baseUrl: castellan.url, timeoutMs: 5000 }));
    token = await signToken('collab');
  });
  afterAll(async () => {
    await service?.close();
    await env?.close();
  });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${service.url}${path}`, { headers });
  const bearer = () => ({ authorization: `Bearer ${token}` });

  it('allows: the handler runs with the decision on req.castellan', async () => {
    const response = await get('/companies/acme/projects/p1', bearer());
    expect(response.status).toBe(200);
    const { decision } = (await response.json()) as { decision: CastellanDecision };
    expect(decision).toMatchObject({ allowed: true, company: 'acme', action: 'view', resource: { type: 'Project', id: 'p1' }, version: expect.stringMatching(/^\d+$/) });
    expect(decision.reason).toContain('p1');
  });

  it('denies with 403 in the contract error shape, with the reason, and the handler never runs', async () => {
    const before = service.reached.length;
    const response = await get('/companies/acme/projects/p2', bearer());
    expect(response.status).toBe(403);
    const body = (await response.json()) as { error: { code: string; message: string; details: { reason: string; version: string } } };
    expect(body.error).toMatchObject({ code: 'forbidden', details: { reason: body.error.message, version: expect.stringMatching(/^\d+$/) } });
    const settings = await fetch(`${service.url}/companies/acme/branding`, { method: 'PATCH', headers: bearer() });
    expect(settings.status).toBe(403);
    expect(service.reached.length).toBe(before);
  });

  it('no bearer token is 401; a token Castellan refuses is 401 too', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer not-a-jwt' }] as Array<Record<string, string>>) {
      const response = await get('/companies/acme/projects/p1', headers);
      expect(response.status, JSON.stringify(headers)).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
    }
  });

  it('takes the principal from the service when told to', async () => {
    expect((await get('/as/editor/projects/p2')).status).toBe(200);
    expect((await get('/as/collab/projects/p2')).status).toBe(403);
  });

  it('read-after-write: X-Castellan-Version makes the next check see a write this instance was not told of', async () => {
    expect((await get('/companies/acme/projects/p1', bearer())).status).toBe(200);
    const version = await writeAndBump(castellan.app.store.db, 'acme', (trx) => trx.deleteFrom('project_grants').where('company_id', '=', 'acme').where('user_id', '=', 'collab').execute());
    expect((await get('/companies/acme/projects/p1', bearer())).status).toBe(200);
    expect((await get('/companies/acme/projects/p1', { ...bearer(), 'x-castellan-version': version })).status).toBe(403);
    const ahead = await get('/companies/acme/projects/p1', { ...bearer(), 'x-castellan-version': String(BigInt(version) + 5n) });
    expect(ahead.status).toBe(503);
    expect((await get('/companies/acme/projects/p1', { ...bearer(), 'x-castellan-version': 'latest' })).status).toBe(400);
  });

  it('Castellan unavailable is 503, its refusal of the service is 503, a broken extractor is 500: never the handler', async () => {
    const errors: unknown[] = [];
    const stopped = await env.start();
    await stopped.close();
    const down = await startService(createCastellanClient({ baseUrl: stopped.url, timeoutMs: 5000 }), (error) => errors.push(error));
    const guarded = await env.start({ CHECK_TOKEN: 'check-token-0123456789abcdef' });
    const refused = await startService(createCastellanClient({ baseUrl: guarded.url, timeoutMs: 5000 }));
    try {
      const response = await fetch(`${down.url}/companies/acme/projects/p1`, { headers: bearer() });
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unavailable');
      expect(errors).toHaveLength(1);
      expect((await fetch(`${refused.url}/companies/acme/projects/p1`, { headers: bearer() })).status).toBe(503);
      expect((await fetch(`${down.url}/broken`, { headers: bearer() })).status).toBe(500);
      expect([...down.reached, ...refused.reached]).toEqual([]);
    } finally {
      await down.close();
      await refused.close();
    }
  });
});
