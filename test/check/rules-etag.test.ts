import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedCompany, writeAndBump } from './seed.js';

/**
 * The rules endpoint is what a service polls to keep a local ability current (issue 14): an
 * unchanged principal must cost a 304 and no rules on the wire.
 */
describe.skipIf(!servicesUp)('rules endpoint: ETag and If-None-Match', () => {
  let env: TestEnvironment;
  let instance: TestApp;
  const path = '/v1/companies/etagco/principals/ann/rules';

  beforeAll(async () => {
    env = await createTestEnvironment();
    instance = await env.start();
    await seedCompany(instance.app.store.db, instance.app.policies, {
      id: 'etagco',
      members: [{ id: 'ann', role: 'collaborator' }],
      projects: ['p1', 'p2'],
      grants: [{ project: 'p1', role: 'viewer', user: 'ann' }],
    });
  });
  afterAll(() => env?.close());

  it('answers a strong ETag that names the version', async () => {
    const first = await api(instance.url, 'GET', path);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(etag.startsWith(`"${first.body.version}.`)).toBe(true);
    const again = await api(instance.url, 'GET', path);
    expect(again.headers.get('etag')).toBe(etag);
  });

  it('answers 304 without a body to a matching If-None-Match (exact, weak, in a list, or *)', async () => {
    const etag = (await api(instance.url, 'GET', path)).headers.get('etag')!;
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const response = await fetch(`${instance.url}${path}`, { headers: { 'if-none-match': header } });
      expect(response.status, header).toBe(304);
      expect(response.headers.get('etag')).toBe(etag);
      expect(await response.text()).toBe('');
    }
  });

  it('answers the rules again once a write changed the version', async () => {
    const before = await api(instance.url, 'GET', path);
    const etag = before.headers.get('etag')!;
    const version = await writeAndBump(instance.app.store.db, 'etagco', (trx) =>
      trx.insertInto('project_grants').values({ company_id: 'etagco', project_id: 'p2', role_key: 'viewer', user_id: 'ann', team_id: null }).execute(),
    );
    // As the admin API does after its writes: the instance hears of the new version at once.
    await instance.app.bus.announce('etagco', version);
    const after = await api(instance.url, 'GET', path, undefined, { 'if-none-match': etag });
    expect(after.status).toBe(200);
    expect(after.body.version).toBe(version);
    expect(after.headers.get('etag')).not.toBe(etag);
    expect(after.body.rules).not.toEqual(before.body.rules);
  });

  it('gives the packed form a tag of its own, and keeps minVersion above a 304', async () => {
    const raw = await api(instance.url, 'GET', path);
    const packed = await api(instance.url, 'GET', `${path}?format=packed`);
    expect(packed.headers.get('etag')).not.toBe(raw.headers.get('etag'));
    const stale = await api(instance.url, 'GET', `${path}?format=packed`, undefined, { 'if-none-match': raw.headers.get('etag')! });
    expect(stale.status).toBe(200);
    const ahead = String(BigInt(raw.body.version) + 5n);
    const behind = await api(instance.url, 'GET', `${path}?minVersion=${ahead}`, undefined, { 'if-none-match': raw.headers.get('etag')! });
    expect(behind.status).toBe(503);
  });

  it('documents the ETag, If-None-Match and the 304 in /openapi.json', async () => {
    const document = (await api(instance.url, 'GET', '/openapi.json')).body;
    const operation = document.paths['/v1/companies/{company}/principals/{userId}/rules'].get;
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '304']));
    expect(operation.responses['304'].content).toBeUndefined();
    expect(operation.responses['200'].headers.ETag).toBeDefined();
    expect(operation.parameters.map((p: { name: string }) => p.name)).toContain('If-None-Match');
  });
});
