import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createCastellanClient } from '@castellan/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCompany } from '../../../test/check/seed.js';
import { createTestEnvironment, signToken, type TestApp, type TestEnvironment } from '../../../test/support/app.js';
import { servicesUp } from '../../../test/support/services.js';
import { createApp, type Store } from '../src/app.js';

async function listen(app: ReturnType<typeof createApp>): Promise<{ url: string; server: Server }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const store = (): Store => ({
  scenarios: new Map([
    ['s-1', { id: 's-1', projectId: 'p1', name: 'Base case' }],
    ['s-2', { id: 's-2', projectId: 'p2', name: 'Other' }],
  ]),
  projects: [
    { id: 'p1', name: 'Bridge' },
    { id: 'p2', name: 'Tunnel' },
  ],
  branding: new Map(),
});

/** The example service, run as a service runs it, in front of a real Castellan. */
describe.skipIf(!servicesUp)('examples/express-service', () => {
  let env: TestEnvironment;
  let castellan: TestApp;
  let service: { url: string; server: Server };
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    env = await createTestEnvironment();
    castellan = await env.start();
    await seedCompany(castellan.app.store.db, castellan.app.policies, {
      id: 'acme',
      members: [
        { id: 'ada', role: 'collaborator' },
        { id: 'max', role: 'manager' },
        { id: 'eve', role: 'editor' },
      ],
      projects: ['p1', 'p2'],
      grants: [{ project: 'p1', role: 'viewer', user: 'ada' }],
    });
    for (const user of ['ada', 'max', 'eve']) tokens[user] = `Bearer ${await signToken(user)}`;
    service = await listen(createApp(createCastellanClient({ baseUrl: castellan.url, timeoutMs: 5000 }), store()));
  });
  afterAll(async () => {
    service?.server.close();
    await env?.close();
  });
  const call = (path: string, user?: string, init: RequestInit = {}) =>
    fetch(`${service.url}${path}`, { ...init, headers: { 'content-type': 'application/json', ...(user ? { authorization: tokens[user]! } : {}) } });

  it('serves a scenario to a user whose project role lets them view it, and 403 with the reason to others', async () => {
    const allowed = await call('/companies/acme/projects/p1/scenarios/s-1', 'ada');
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ name: 'Base case' });
    const denied = await call('/companies/acme/projects/p2/scenarios/s-2', 'ada');
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ error: { code: 'forbidden', message: 'no rule allows view Scenario', details: { reason: 'no rule allows view Scenario', version: expect.any(String) } } });
    expect((await call('/companies/acme/projects/p1/scenarios/s-1')).status).toBe(401);
  });

  it('lets a manager, and not an editor, edit the branding section (D8)', async () => {
    const body = JSON.stringify({ color: '#c0ffee' });
    expect((await call('/companies/acme/settings/branding', 'max', { method: 'PATCH', body })).status).toBe(200);
    expect((await call('/companies/acme/settings/branding', 'eve', { method: 'PATCH', body })).status).toBe(403);
  });

  it('lists only the projects a user may view', async () => {
    const ada = (await (await call('/companies/acme/projects', 'ada')).json()) as { projects: Array<{ id: string }> };
    expect(ada.projects.map((p) => p.id)).toEqual(['p1']);
    const eve = (await (await call('/companies/acme/projects', 'eve')).json()) as { projects: Array<{ id: string }> };
    expect(eve.projects.map((p) => p.id)).toEqual(['p1', 'p2']);
  });

  it('answers 503 when Castellan is gone, and never serves the data', async () => {
    const stopped = await env.start();
    await stopped.close();
    const orphan = await listen(createApp(createCastellanClient({ baseUrl: stopped.url, timeoutMs: 5000 }), store()));
    try {
      const scenario = await fetch(`${orphan.url}/companies/acme/projects/p1/scenarios/s-1`, { headers: { authorization: tokens.ada! } });
      expect(scenario.status).toBe(503);
      expect(await scenario.text()).not.toContain('Base case');
      expect((await fetch(`${orphan.url}/companies/acme/projects`, { headers: { authorization: tokens.ada! } })).status).toBe(503);
    } finally {
      orphan.server.close();
    }
  });
});
