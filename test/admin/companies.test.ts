import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, adminClient, createCompany, defaultPlan, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, operatorHeaders, signToken, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

describe.skipIf(!servicesUp)('admin API: companies (D1, D4, D5, D8, D10, D14)', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let olga: AdminClient;

  const as = (userId: string) => adminClient(app.url, userId);
  const decide = async (company: string, user: string, action: string, type: string, minVersion?: string, field?: string) =>
    (
      await api(app.url, 'POST', '/v1/check', {
        company,
        principal: { id: user },
        action,
        resource: { type },
        ...(field ? { field } : {}),
        ...(minVersion ? { consistency: { minVersion } } : {}),
      })
    ).body.allowed as boolean;

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    olga = as('olga');
  });
  afterAll(() => env?.close());

  it('creating a company makes the caller its owner and an active admin, with the default roles', async () => {
    const response = await olga.post('/v1/companies', { id: 'acme', name: 'Acme', domains: ['ACME.test'], plan: { name: 'business', userLicenses: 10, developerLicenses: 2 } }, operatorHeaders());
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: 'acme',
      name: 'Acme',
      owner: 'olga',
      createdAt: expect.any(String),
      domains: ['acme.test'],
      plan: { name: 'business', userLicenses: 10, developerLicenses: 2 },
      usage: { userLicenses: 0, developerLicenses: 0 },
      version: '1',
    });
    expect(await decide('acme', 'olga', 'delete', 'Company', '1')).toBe(true);
    expect(await decide('acme', 'olga', 'edit', 'CompanySettings', '1', 'payments')).toBe(true);
    // D12: admin rights do not include using the application.
    expect(await decide('acme', 'olga', 'use', 'Application', '1')).toBe(false);
    const member = await olga.get('/v1/companies/acme/members/olga');
    expect(member.body).toMatchObject({ role: 'admin', status: 'active', owner: true, type: 'guest' });
  });

  it('an id is generated when none is given', async () => {
    const response = await as('gen').post('/v1/companies', { name: 'Generated' });
    expect(response.status).toBe(201);
    expect(response.body.id).toMatch(/^c-[0-9a-f]{12}$/);
  });

  it('refuses a taken id, a taken domain and several domains outside the Enterprise plan', async () => {
    // The platform vouches for the domains here (the operator credential): proving them is test/admin/platform.test.ts.
    const platform = operatorHeaders();
    const taken = await as('zed').post('/v1/companies', { id: 'acme', name: 'Other', plan: defaultPlan }, platform);
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('conflict');
    const domain = await as('zed').post('/v1/companies', { id: 'zed-co', name: 'Zed', domains: ['acme.test'], plan: defaultPlan }, platform);
    expect(domain.status).toBe(409);
    expect(domain.body.error).toMatchObject({ code: 'domain_taken', details: { domain: 'acme.test' } });
    const many = await as('zed').post('/v1/companies', { id: 'zed-co', name: 'Zed', domains: ['zed.test', 'zed.example'], plan: defaultPlan }, platform);
    expect(many.status).toBe(409);
    expect(many.body.error.code).toBe('conflict');
    const enterprise = await as('zed').post('/v1/companies', { id: 'zed-co', name: 'Zed', domains: ['zed.test', 'zed.example'], plan: { ...defaultPlan, name: 'Enterprise' } }, platform);
    expect(enterprise.status).toBe(201);
    // Nothing of the refused attempts was kept.
    expect((await as('zed').get('/v1/companies/zed-co')).body.domains).toEqual(['zed.example', 'zed.test']);
  });

  it('bad input is a 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ plan: defaultPlan }, 'name'],
      [{ name: 'X', plan: { name: 'business', userLicenses: 10 } }, 'plan.developerLicenses'],
      [{ name: 'X', plan: { ...defaultPlan, userLicenses: -1 } }, 'plan.userLicenses'],
      [{ name: 'X', plan: defaultPlan, domains: ['not a domain'] }, 'domains.0'],
      [{ name: 'X', plan: defaultPlan, domains: ['a.test', 'A.test'] }, 'domains'],
      [{ name: 'X', plan: defaultPlan, id: 'has space' }, 'id'],
      [{ name: 'X', plan: defaultPlan, colour: 'red' }, 'colour'],
    ];
    for (const [body, path] of cases) {
      const response = await as('zed').post('/v1/companies', body, operatorHeaders());
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error).toMatchObject({ code: 'invalid_request', details: { path } });
    }
    const notJson = await api(app.url, 'POST', '/v1/companies', '{"name":', { authorization: `Bearer ${await signToken('zed')}` });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('invalid_request');
  });

  it('D8: the company shows each role only the settings sections it may view', async () => {
    const { db } = app.app.store;
    await addMember(db, 'acme', 'manny', 'manager');
    await addMember(db, 'acme', 'eddie', 'editor');
    await addMember(db, 'acme', 'cole', 'collaborator');
    expect(Object.keys((await as('manny').get('/v1/companies/acme')).body).sort()).toEqual(['createdAt', 'domains', 'id', 'name', 'owner', 'plan', 'usage']);
    // D8: editors do not see the subscription.
    expect(Object.keys((await as('eddie').get('/v1/companies/acme')).body).sort()).toEqual(['createdAt', 'domains', 'id', 'name', 'owner']);
    expect(Object.keys((await as('cole').get('/v1/companies/acme')).body).sort()).toEqual(['createdAt', 'id', 'name', 'owner']);
  });

  it('renaming needs edit on the general section and keeps the policy version', async () => {
    const denied = await as('manny').patch('/v1/companies/acme', { name: 'Acme Corp' });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'forbidden', details: { action: 'edit', subject: 'CompanySettings', field: 'general' } });
    const renamed = await olga.patch('/v1/companies/acme', { name: 'Acme Corp' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Acme Corp', version: '1' });
  });

  it('domains and subscription need their own sections', async () => {
    expect((await as('manny').put('/v1/companies/acme/domains', { domains: ['acme.test'] })).status).toBe(403);
    expect((await as('manny').put('/v1/companies/acme/subscription', { plan: 'business', userLicenses: 20, developerLicenses: 2 })).status).toBe(403);
    // Olga with the platform's credential beside her token (the billing side's calls; see test/admin/platform.test.ts).
    const platform = operatorHeaders();
    expect((await as('manny').put('/v1/companies/acme/domains', { domains: ['acme.test'] }, platform)).status).toBe(403);
    expect((await as('manny').put('/v1/companies/acme/subscription', { plan: 'business', userLicenses: 20, developerLicenses: 2 }, platform)).status).toBe(403);
    const sub = await olga.put('/v1/companies/acme/subscription', { plan: 'business', userLicenses: 20, developerLicenses: 4 }, platform);
    expect(sub.status).toBe(200);
    expect(sub.body.plan).toEqual({ name: 'business', userLicenses: 20, developerLicenses: 4 });
    const taken = await olga.put('/v1/companies/acme/domains', { domains: ['acme.test', 'zed.test'] }, platform);
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('conflict'); // two domains on a business plan
    await olga.put('/v1/companies/acme/subscription', { plan: 'Enterprise', userLicenses: 20, developerLicenses: 4 }, platform);
    const stolen = await olga.put('/v1/companies/acme/domains', { domains: ['acme.test', 'zed.test'] }, platform);
    expect(stolen.status).toBe(409);
    expect(stolen.body.error).toMatchObject({ code: 'domain_taken', details: { domain: 'zed.test' } });
    const two = await olga.put('/v1/companies/acme/domains', { domains: ['acme.test', 'acme.example'] }, platform);
    expect(two.body.domains).toEqual(['acme.example', 'acme.test']);
    // Back to a single-domain plan is refused while two domains are registered.
    const downgrade = await olga.put('/v1/companies/acme/subscription', { plan: 'business', userLicenses: 20, developerLicenses: 4 }, platform);
    expect(downgrade.status).toBe(409);
    expect(downgrade.body.error.code).toBe('conflict');
  });

  it('D10: only the owner deletes the company; everything in it but its audit log goes, and its version moves on', async () => {
    const owner = as('dora');
    const created = await createCompany(owner, 'doomed', { domains: ['doomed.test'] });
    const { db } = app.app.store;
    await addMember(db, 'doomed', 'ann', 'admin');
    await addMember(db, 'doomed', 'olga', 'collaborator'); // olga owns acme too: that must survive
    const local = await owner.post('/v1/companies/doomed/local-users', { login: 'clerk', password: 'a long enough password', firstName: 'C', lastName: 'L', role: 'collaborator' });
    expect(local.status).toBe(201);
    const notOwner = await as('ann').delete('/v1/companies/doomed');
    expect(notOwner.status).toBe(403);
    expect(notOwner.body.error.code).toBe('forbidden');
    const deleted = await owner.delete('/v1/companies/doomed');
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ version: expect.stringMatching(/^\d+$/) });
    expect(BigInt(deleted.body.version)).toBeGreaterThan(BigInt(created.version));
    expect((await owner.get('/v1/companies/doomed')).status).toBe(404);
    expect(await decide('doomed', 'dora', 'delete', 'Company', deleted.body.version)).toBe(false);
    expect(await decide('doomed', 'ann', 'view', 'CompanySettings', deleted.body.version)).toBe(false);
    for (const table of ['memberships', 'company_domains', 'company_role_permissions', 'project_roles', 'local_credentials'] as const) {
      const rows = await db.selectFrom(table).select('company_id').where('company_id', '=', 'doomed').execute();
      expect(rows, table).toEqual([]);
    }
    // All but the audit log, which outlives its company and records the deletion (D22; test/admin/audit.test.ts).
    const log = await db.selectFrom('audit_log').select(['action', 'actor']).where('company_id', '=', 'doomed').orderBy('id').execute();
    expect(log.at(-1)).toEqual({ action: 'company.delete', actor: 'dora' });
    expect(await db.selectFrom('users').select('id').where('id', '=', local.body.userId).executeTakeFirst()).toBeUndefined();
    expect(await db.selectFrom('users').select('id').where('id', '=', 'olga').executeTakeFirst()).toEqual({ id: 'olga' });
    // The domain is free again; the id is not (it stays retired, see the next test).
    const again = await createCompany(as('dan'), 'doomed-2', { domains: ['doomed.test'] });
    expect((await as('dan').get('/v1/companies/doomed-2')).body.domains).toEqual(['doomed.test']);
    expect(await decide('doomed-2', 'dan', 'delete', 'Company', again.version)).toBe(true);
    expect(await decide('doomed', 'dan', 'delete', 'Company')).toBe(false);
  });

  it("a deleted company's id is never handed out again: nobody takes over what downstream services keep under it", async () => {
    const vic = as('vic');
    await createCompany(vic, 'victim');
    expect((await vic.delete('/v1/companies/victim')).status).toBe(200);
    const mallory = as('mallory');
    const takeover = await mallory.post('/v1/companies', { id: 'victim', name: 'Victim (really)' });
    expect(takeover.status).toBe(409);
    expect(takeover.body.error).toMatchObject({ code: 'conflict', details: { id: 'victim' } });
    // Not by its former owner either: the id stays retired.
    expect((await vic.post('/v1/companies', { id: 'victim', name: 'Victim again' }, operatorHeaders())).status).toBe(409);
    expect(await decide('victim', 'mallory', 'delete', 'Company')).toBe(false);
    expect((await mallory.get('/v1/companies/victim')).status).toBe(404);
  });

  it('D1: nobody outside a company learns anything about it', async () => {
    for (const response of [
      await as('stranger').get('/v1/companies/acme'),
      await as('stranger').patch('/v1/companies/acme', { name: 'Mine' }),
      await as('stranger').delete('/v1/companies/acme'),
      await as('stranger').put('/v1/companies/acme/domains', { domains: [] }),
      await as('stranger').get('/v1/companies/no-such-company'),
    ]) {
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('not_found');
    }
  });
});
