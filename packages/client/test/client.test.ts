import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken, type TestApp, type TestEnvironment } from '../../../test/support/app.js';
import { servicesUp } from '../../../test/support/services.js';
import { CastellanRequestError, CastellanUnavailableError, createCastellanClient } from '../src/index.js';
import { collab, startCastellan } from './support.js';

describe.skipIf(!servicesUp)('the client against a real Castellan', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let guarded: TestApp;
  beforeAll(async () => {
    ({ env, app } = await startCastellan());
    guarded = await env.start({ CHECK_TOKEN: 'check-token-0123456789abcdef' });
  });
  afterAll(() => env?.close());
  // Generous: other test files load the same two cores.
  const client = () => createCastellanClient({ baseUrl: app.url, timeoutMs: 5000 });

  it('check answers the decision, its reason and version', async () => {
    const allowed = await client().check({ ...collab, action: 'edit', resource: { type: 'Scenario', attributes: { projectId: 'p1' } } });
    expect(allowed).toEqual({ allowed: true, reason: 'role contributor on project p1 allows edit Scenario', version: expect.stringMatching(/^\d+$/) });
    const denied = await client().check({ ...collab, action: 'delete', resource: { type: 'Scenario', attributes: { projectId: 'p1' } } });
    expect(denied).toMatchObject({ allowed: false, reason: 'no rule allows delete Scenario' });
  });

  it('checkBatch, accessible and rules answer their endpoints', async () => {
    const batch = await client().checkBatch({ ...collab, checks: [{ action: 'view', resource: { type: 'Project', id: 'p1' } }, { action: 'view', resource: { type: 'Project', id: 'p2' } }] });
    expect(batch.results.map((r) => r.allowed)).toEqual([true, false]);
    const accessible = await client().accessible({ ...collab, action: 'view', resourceType: 'Project' });
    expect(accessible).toMatchObject({ kind: 'some', ids: ['p1'] });
    const rules = await client().rules({ company: 'acme', userId: 'collab' });
    expect(rules.version).toBe(batch.version);
    expect(rules.rules.length).toBeGreaterThan(0);
    const packed = await client().rules({ company: 'acme', userId: 'collab', format: 'packed' });
    expect(packed.rules).not.toEqual(rules.rules);
  });

  it('takes a principal by token, and says so when the token is refused', async () => {
    const token = await signToken('collab');
    expect(await client().can({ company: 'acme', principal: { token }, action: 'view', resource: { type: 'Project', id: 'p1' } })).toBe(true);
    const refused = client().check({ company: 'acme', principal: { token: 'not-a-jwt' }, action: 'view', resource: { type: 'Project', id: 'p1' } });
    await expect(refused).rejects.toBeInstanceOf(CastellanRequestError);
    await expect(refused).rejects.toMatchObject({ status: 401, code: 'unauthenticated', refusedServiceCredential: false });
  });

  it('passes minVersion: a version the company has not reached is no decision', async () => {
    const { version } = await client().check({ ...collab, action: 'view', resource: { type: 'Project', id: 'p1' } });
    const reached = await client().check({ ...collab, action: 'view', resource: { type: 'Project', id: 'p1' }, consistency: { minVersion: version } });
    expect(reached.allowed).toBe(true);
    const ahead = client().check({ ...collab, action: 'view', resource: { type: 'Project', id: 'p1' }, consistency: { minVersion: String(BigInt(version) + 10n) } });
    await expect(ahead).rejects.toBeInstanceOf(CastellanUnavailableError);
    await expect(ahead).rejects.toMatchObject({ kind: 'server_error', status: 503, code: 'unavailable' });
  });

  it('a refused request is a CastellanRequestError naming the field, never a decision', async () => {
    const bad = client().check({ ...collab, action: 'fly' as never, resource: { type: 'Project', id: 'p1' } });
    await expect(bad).rejects.toMatchObject({ name: 'CastellanRequestError', status: 400, code: 'invalid_request', details: { path: 'action' } });
  });

  it('sends CHECK_TOKEN, and tells a refused service credential from a refused principal', async () => {
    const question = { ...collab, action: 'view', resource: { type: 'Project', id: 'p1' } } as const;
    const withToken = createCastellanClient({ baseUrl: guarded.url, checkToken: 'check-token-0123456789abcdef', timeoutMs: 5000 });
    expect((await withToken.check(question)).allowed).toBe(true);
    const without = createCastellanClient({ baseUrl: guarded.url, timeoutMs: 5000 }).check(question);
    await expect(without).rejects.toMatchObject({ status: 401, refusedServiceCredential: true });
  });

  it('accepts a base URL with a trailing slash', async () => {
    const answer = await createCastellanClient({ baseUrl: `${app.url}/`, timeoutMs: 5000 }).check({ ...collab, action: 'view', resource: { type: 'Project', id: 'p1' } });
    expect(answer.allowed).toBe(true);
  });

  it('evaluation and evaluations ask the company\'s AuthZEN PDP, and decide as check does', async () => {
    const subject = { type: 'user', id: 'collab' };
    const permit = await client().evaluation('acme', { subject, action: { name: 'edit' }, resource: { type: 'Scenario', properties: { projectId: 'p1' } } });
    expect(permit).toMatchObject({ decision: true, context: { version: expect.stringMatching(/^\d+$/) } });
    const deny = await client().evaluation('acme', { subject, action: { name: 'delete' }, resource: { type: 'Scenario', properties: { projectId: 'p1' } } });
    expect(deny.decision).toBe(false);

    const items = [{ resource: { type: 'Project', id: 'p1' } }, { resource: { type: 'Project', id: 'p2' } }, { resource: { type: 'Project', id: 'p1' } }];
    const all = await client().evaluations('acme', { subject, action: { name: 'view' }, evaluations: items });
    expect('evaluations' in all && all.evaluations.map((e) => e.decision)).toEqual([true, false, true]);
    const stopped = await client().evaluations('acme', { subject, action: { name: 'view' }, evaluations: items, options: { evaluations_semantic: 'deny_on_first_deny' } });
    expect('evaluations' in stopped && stopped.evaluations.map((e) => e.decision)).toEqual([true, false]);
    // No items: the top level is the one evaluation, answered as one decision.
    const single = await client().evaluations('acme', { subject, action: { name: 'view' }, resource: { type: 'Project', id: 'p1' } });
    expect(single).toMatchObject({ decision: true });

    const refused = client().evaluation('acme', { subject, action: { name: 'fly' }, resource: { type: 'Project', id: 'p1' } });
    await expect(refused).rejects.toMatchObject({ name: 'CastellanRequestError', status: 400, code: 'invalid_request' });
  });
});
