import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedCompany, writeAndBump } from './seed.js';

const AHEAD = '99999999999999999999';

/** Hole 9 of issue 11: a minVersion the company has not reached is a 503 on every check endpoint, never an older answer. */
describe.skipIf(!servicesUp)('consistency.minVersion ahead of the store', () => {
  let env: TestEnvironment;
  let instance: TestApp;
  const principal = { id: 'ann' };

  beforeAll(async () => {
    env = await createTestEnvironment();
    instance = await env.start();
    await seedCompany(instance.app.store.db, instance.app.policies, {
      id: 'acme',
      members: [{ id: 'ann', role: 'editor' }],
      projects: ['p1'],
    });
    await writeAndBump(instance.app.store.db, 'acme', async () => {}); // version 2
  });
  afterAll(() => env?.close());

  const refused = { code: 'unavailable', details: { currentVersion: '2', minVersion: AHEAD } };

  it('/v1/check, /v1/check/batch, /v1/accessible and the rules export answer 503 with the version the store has', async () => {
    const consistency = { minVersion: AHEAD };
    const question = { action: 'view', resource: { type: 'Project', id: 'p1' } };
    const answers = [
      await api(instance.url, 'POST', '/v1/check', { company: 'acme', principal, ...question, consistency }),
      await api(instance.url, 'POST', '/v1/check/batch', { company: 'acme', principal, checks: [question], consistency }),
      await api(instance.url, 'POST', '/v1/accessible', { company: 'acme', principal, action: 'view', resourceType: 'Project', consistency }),
      await api(instance.url, 'GET', `/v1/companies/acme/principals/ann/rules?minVersion=${AHEAD}`),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.body.error).toMatchObject(refused);
    }
  });

  it('the same principal is answered as soon as the floor is one the store has reached, cached or not', async () => {
    for (const minVersion of ['2', '1', '3']) {
      const answer = await api(instance.url, 'POST', '/v1/check', { company: 'acme', principal, action: 'view', resource: { type: 'Project', id: 'p1' }, consistency: { minVersion } });
      if (minVersion === '3') expect(answer.body.error).toMatchObject({ code: 'unavailable', details: { currentVersion: '2', minVersion: '3' } });
      else expect(answer.body).toEqual({ allowed: true, reason: 'company role editor allows view Project', version: '2' });
    }
  });
});
