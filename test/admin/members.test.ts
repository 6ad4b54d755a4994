import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, operatorHeaders, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

describe.skipIf(!servicesUp)('admin API: members, invitations, local users (D3-D6, D10-D14)', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let olga: AdminClient; // owner of acme

  const as = (userId: string, email?: string | null) => adminClient(app.url, userId, email === undefined ? `${userId}@example.test` : email);

  /** Invites a platform user and accepts as them; returns their client. */
  async function join(company: string, by: AdminClient, userId: string, role: string, extra: Record<string, unknown> = {}, email = `${userId}@example.test`) {
    const invited = await by.post(`/v1/companies/${company}/invitations`, { email, role, ...extra });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    const client = as(userId, email);
    const accepted = await client.post(`/v1/companies/${company}/invitations/accept`);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    return client;
  }

  const check = async (company: string, user: string, action: string, resource: Record<string, unknown>, minVersion?: string, field?: string) => {
    const response = await api(app.url, 'POST', '/v1/check', {
      company,
      principal: { id: user },
      action,
      resource,
      ...(field ? { field } : {}),
      ...(minVersion ? { consistency: { minVersion } } : {}),
    });
    expect(response.status).toBe(200);
    return response.body.allowed as boolean;
  };

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    olga = as('olga', 'olga@acme.test');
    await createCompany(olga, 'acme', { domains: ['acme.test', 'acme-labs.test'], plan: { name: 'Enterprise', userLicenses: 3, developerLicenses: 1 } });
  });
  afterAll(() => env?.close());

  describe('invitations (D4, D6)', () => {
    it('an invitation is listed as invited with its derived type and grants nothing until accepted', async () => {
      const invited = await olga.post('/v1/companies/acme/invitations', { email: 'Ivan@ACME.test', role: 'manager' });
      expect(invited.status).toBe(201);
      expect(invited.body).toEqual({
        userId: expect.stringMatching(/^invite:/),
        email: 'Ivan@acme.test',
        kind: 'platform',
        type: 'member',
        status: 'invited',
        role: 'manager',
        owner: false,
        applicationAccess: false,
        developerAccess: false,
        invitation: { expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), invitedBy: 'olga' },
        version: expect.stringMatching(/^\d+$/),
      });
      expect(await check('acme', invited.body.userId, 'view', { type: 'CompanySettings' }, invited.body.version)).toBe(false);

      const ivan = as('ivan', 'ivan@acme.test');
      const accepted = await ivan.post('/v1/companies/acme/invitations/accept');
      expect(accepted.status).toBe(200);
      expect(accepted.body).toMatchObject({ userId: 'ivan', status: 'active', role: 'manager', type: 'member' });
      expect(await check('acme', 'ivan', 'view', { type: 'CompanySettings' }, accepted.body.version)).toBe(true);
      expect((await olga.get('/v1/companies/acme/members/ivan')).body).toMatchObject({ userId: 'ivan', status: 'active' });
      expect((await olga.get(`/v1/companies/acme/members/${invited.body.userId}`)).status).toBe(404);
    });

    it('someone outside the registered domains is a guest', async () => {
      const invited = await olga.post('/v1/companies/acme/invitations', { email: 'gus@gmail.test', role: 'collaborator' });
      expect(invited.body).toMatchObject({ type: 'guest', status: 'invited' });
    });

    it('accepting needs a token whose email is the invited one', async () => {
      await olga.post('/v1/companies/acme/invitations', { email: 'tina@acme.test', role: 'editor' });
      const wrong = await as('mallory', 'mallory@acme.test').post('/v1/companies/acme/invitations/accept');
      expect(wrong.status).toBe(404);
      expect(wrong.body.error.code).toBe('not_found');
      const noEmail = await as('tina', null).post('/v1/companies/acme/invitations/accept');
      expect(noEmail.status).toBe(403);
      expect(noEmail.body.error.code).toBe('forbidden');
      expect((await as('tina', 'tina@acme.test').post('/v1/companies/acme/invitations/accept')).status).toBe(200);
      const again = await as('tina', 'tina@acme.test').post('/v1/companies/acme/invitations/accept');
      expect(again.status).toBe(404);
    });

    it('inviting an email already in the company is a conflict', async () => {
      const response = await olga.post('/v1/companies/acme/invitations', { email: 'IVAN@acme.test', role: 'editor' });
      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('conflict');
    });

    it('the member type follows the domain list (D4)', async () => {
      await join('acme', olga, 'pat', 'collaborator', {}, 'pat@partner.test');
      expect((await olga.get('/v1/companies/acme/members/pat')).body.type).toBe('guest');
      // The platform vouches for the partner's domain (olga's own email is at acme.test).
      const put = await olga.put('/v1/companies/acme/domains', { domains: ['acme.test', 'acme-labs.test', 'partner.test'] }, operatorHeaders());
      expect(put.status).toBe(200);
      expect(put.body.domains).toEqual(['acme-labs.test', 'acme.test', 'partner.test']);
      expect((await olga.get('/v1/companies/acme/members/pat')).body.type).toBe('member');
      await olga.put('/v1/companies/acme/domains', { domains: ['acme.test', 'acme-labs.test'] });
      expect((await olga.get('/v1/companies/acme/members/pat')).body.type).toBe('guest');
    });

    it('D5: an email is a member of at most one company: elsewhere it is a guest', async () => {
      const greta = as('greta', 'greta@globex.test');
      await createCompany(greta, 'globex', { domains: ['globex.test'] });
      const invited = await greta.post('/v1/companies/globex/invitations', { email: 'ivan@acme.test', role: 'editor' });
      expect(invited.body.type).toBe('guest');
      expect((await as('ivan', 'ivan@acme.test').post('/v1/companies/globex/invitations/accept')).body).toMatchObject({ userId: 'ivan', type: 'guest' });
      expect((await olga.get('/v1/companies/acme/members/ivan')).body.type).toBe('member');
    });

    it('team places and grants given to an invitation follow the person who accepts it', async () => {
      const invited = await olga.post('/v1/companies/acme/invitations', { email: 'una@acme.test', role: 'collaborator' });
      const { db } = app.app.store;
      await db.insertInto('projects').values({ company_id: 'acme', id: 'p-una', name: 'Una project' }).execute();
      await db.insertInto('teams').values({ company_id: 'acme', id: 'una-team', name: 'Una team' }).execute();
      await db.insertInto('team_members').values({ company_id: 'acme', team_id: 'una-team', user_id: invited.body.userId }).execute();
      await db.insertInto('project_grants').values({ company_id: 'acme', project_id: 'p-una', role_key: 'viewer', team_id: 'una-team' }).execute();
      await db.insertInto('project_grants').values({ company_id: 'acme', project_id: 'p-una', role_key: 'contributor', user_id: invited.body.userId }).execute();
      const accepted = await as('una', 'una@acme.test').post('/v1/companies/acme/invitations/accept');
      expect(accepted.status).toBe(200);
      expect(await check('acme', 'una', 'edit', { type: 'Scenario', attributes: { projectId: 'p-una' } }, accepted.body.version)).toBe(true);
      const places = await db.selectFrom('team_members').select('user_id').where('team_id', '=', 'una-team').execute();
      expect(places).toEqual([{ user_id: 'una' }]);
      expect(await db.selectFrom('users').select('id').where('id', '=', invited.body.userId).executeTakeFirst()).toBeUndefined();
    });
  });

  describe('local users (D3)', () => {
    it('are created active, sign in with Castellan tokens and get decisions', async () => {
      const created = await olga.post('/v1/companies/acme/local-users', {
        login: 'warehouse.1',
        password: 'correct horse battery',
        firstName: 'Wanda',
        lastName: 'House',
        role: 'collaborator',
        applicationAccess: true,
      });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        userId: expect.stringMatching(/^local:/),
        email: null,
        kind: 'local',
        type: 'member',
        status: 'active',
        role: 'collaborator',
        owner: false,
        applicationAccess: true,
        developerAccess: false,
        login: 'warehouse.1',
        firstName: 'Wanda',
        lastName: 'House',
        version: expect.any(String),
      });
      const login = await api(app.url, 'POST', '/v1/auth/token', { company: 'acme', login: 'warehouse.1', password: 'correct horse battery' });
      expect(login.status).toBe(200);
      const self = await adminClient(app.url, created.body.userId, null, login.body.accessToken).get(`/v1/companies/acme/members/${created.body.userId}`);
      expect(self).toMatchObject({ status: 200, body: { login: 'warehouse.1' } });
      const decision = await api(app.url, 'POST', '/v1/check', { company: 'acme', principal: { token: login.body.accessToken }, action: 'use', resource: { type: 'Application' } });
      expect(decision.body).toMatchObject({ allowed: true, reason: 'application access allows use Application' });
      // The audit never holds the password or its hash.
      const audit = JSON.stringify((await olga.get('/v1/companies/acme/audit?limit=500')).body);
      expect(audit).not.toContain('correct horse battery');
      expect(audit).not.toContain('scrypt');
    });

    it('refuse a short password, a taken login and developer access', async () => {
      const base = { login: 'warehouse.2', password: 'short', firstName: 'A', lastName: 'B', role: 'collaborator' };
      const short = await olga.post('/v1/companies/acme/local-users', base);
      expect(short.status).toBe(400);
      expect(short.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'password' } });
      const taken = await olga.post('/v1/companies/acme/local-users', { ...base, login: 'warehouse.1', password: 'long enough password' });
      expect(taken.status).toBe(409);
      expect(taken.body.error.code).toBe('conflict');
      const extra = await olga.post('/v1/companies/acme/local-users', { ...base, password: 'long enough password', developerAccess: true });
      expect(extra.status).toBe(400);
      expect(extra.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'developerAccess' } });
      const wanda = (await olga.get('/v1/companies/acme/members')).body.members.find((m: { login?: string }) => m.login === 'warehouse.1');
      const dev = await olga.patch(`/v1/companies/acme/members/${wanda.userId}`, { developerAccess: true });
      expect(dev.status).toBe(409);
      expect(dev.body.error.code).toBe('conflict');
    });

    it('a local user cannot open a company', async () => {
      const login = await api(app.url, 'POST', '/v1/auth/token', { company: 'acme', login: 'warehouse.1', password: 'correct horse battery' });
      const local = adminClient(app.url, 'x', null, login.body.accessToken);
      const response = await local.post('/v1/companies', { name: 'Side business', plan: { name: 'free', userLicenses: 1, developerLicenses: 0 } });
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('forbidden');
    });
  });

  describe('changing and removing members', () => {
    let beta: string;
    beforeAll(async () => {
      // A company of its own so license counts start from zero.
      const bea = as('bea', 'bea@beta.test');
      beta = 'beta';
      await createCompany(bea, beta, { plan: { name: 'team', userLicenses: 2, developerLicenses: 1 } });
      await join(beta, bea, 'adam', 'admin');
      await join(beta, bea, 'mona', 'manager');
      await join(beta, bea, 'eddie', 'editor');
      await join(beta, bea, 'cora', 'collaborator');
    });
    const bea = () => as('bea', 'bea@beta.test');

    it('a role change reaches the next check (minVersion) and is audited with before and after', async () => {
      const response = await bea().patch('/v1/companies/beta/members/eddie', { role: 'manager' });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ userId: 'eddie', role: 'manager' });
      expect(await check('beta', 'eddie', 'edit', { type: 'CompanySettings' }, response.body.version, 'branding')).toBe(true);
      const audit = await bea().get('/v1/companies/beta/audit?limit=500');
      const entry = audit.body.entries.at(-1);
      expect(entry).toMatchObject({ actor: 'bea', action: 'member.update', target: 'member:eddie', before: { role: 'editor' }, after: { role: 'manager' }, version: response.body.version });
      await bea().patch('/v1/companies/beta/members/eddie', { role: 'editor' });
    });

    it('D6: a deactivated member is denied at once, and reactivated', async () => {
      const off = await bea().patch('/v1/companies/beta/members/mona', { status: 'inactive' });
      expect(off.body).toMatchObject({ status: 'inactive' });
      expect(await check('beta', 'mona', 'view', { type: 'CompanySettings' }, off.body.version)).toBe(false);
      const on = await bea().patch('/v1/companies/beta/members/mona', { status: 'active' });
      expect(await check('beta', 'mona', 'view', { type: 'CompanySettings' }, on.body.version)).toBe(true);
    });

    it('nobody changes their own role or status', async () => {
      for (const patch of [{ role: 'editor' }, { status: 'inactive' }]) {
        const response = await as('adam').patch('/v1/companies/beta/members/adam', patch);
        expect(response.status).toBe(403);
        expect(response.body.error.code).toBe('forbidden');
      }
    });

    it('D12: an admin grants themself application access like anyone else', async () => {
      const response = await as('adam').patch('/v1/companies/beta/members/adam', { applicationAccess: true });
      expect(response.status).toBe(200);
      expect(await check('beta', 'adam', 'use', { type: 'Application' }, response.body.version)).toBe(true);
    });

    it('D14: license limits refuse a grant beyond the subscription, counted for invitations too', async () => {
      // 2 user licenses: adam holds one.
      expect((await bea().patch('/v1/companies/beta/members/cora', { applicationAccess: true })).status).toBe(200);
      const over = await bea().patch('/v1/companies/beta/members/eddie', { applicationAccess: true });
      expect(over.status).toBe(409);
      expect(over.body.error).toMatchObject({ code: 'license_limit', details: { license: 'user', used: 2, limit: 2 } });
      const invite = await bea().post('/v1/companies/beta/invitations', { email: 'ned@beta.test', role: 'editor', applicationAccess: true });
      expect(invite.status).toBe(409);
      expect(invite.body.error.code).toBe('license_limit');
      const local = await bea().post('/v1/companies/beta/local-users', { login: 'loc1', password: 'long enough password', firstName: 'L', lastName: 'One', role: 'collaborator', applicationAccess: true });
      expect(local.body.error.code).toBe('license_limit');
      // Deactivating a member gives the seat back; reactivating takes it again if free.
      await bea().patch('/v1/companies/beta/members/cora', { status: 'inactive' });
      expect((await bea().patch('/v1/companies/beta/members/eddie', { applicationAccess: true })).status).toBe(200);
      const back = await bea().patch('/v1/companies/beta/members/cora', { status: 'active' });
      expect(back.status).toBe(409);
      expect(back.body.error.code).toBe('license_limit');
      // Developer licenses are counted on their own.
      expect((await bea().patch('/v1/companies/beta/members/mona', { developerAccess: true })).status).toBe(200);
      expect((await bea().patch('/v1/companies/beta/members/eddie', { developerAccess: true })).body.error).toMatchObject({ code: 'license_limit', details: { license: 'developer' } });
      // The subscription cannot drop below the seats in use.
      const lower = await bea().put('/v1/companies/beta/subscription', { plan: 'team', userLicenses: 1, developerLicenses: 1 }, operatorHeaders());
      expect(lower.status).toBe(409);
      expect(lower.body.error.code).toBe('license_limit');
      await bea().patch('/v1/companies/beta/members/eddie', { applicationAccess: false, developerAccess: false });
      await bea().patch('/v1/companies/beta/members/mona', { developerAccess: false });
    });

    it('only admins give or take the admin role; others only give roles whose permissions they hold', async () => {
      // Let managers edit members in beta.
      const roles = await bea().get('/v1/companies/beta/roles');
      const manager = roles.body.company.find((r: { key: string }) => r.key === 'manager');
      const put = await bea().put('/v1/companies/beta/roles/company/manager', { permissions: [...manager.permissions, { action: 'edit', subject: 'Member' }] });
      expect(put.status).toBe(200);
      const mona = as('mona');
      const selfPromote = await mona.patch('/v1/companies/beta/members/mona', { role: 'admin' });
      expect(selfPromote.status).toBe(403);
      const promote = await mona.patch('/v1/companies/beta/members/cora', { role: 'admin' });
      expect(promote.status).toBe(403);
      expect(promote.body.error).toMatchObject({ code: 'forbidden', message: 'only admins assign the admin role' });
      const demote = await mona.patch('/v1/companies/beta/members/adam', { role: 'manager' });
      expect(demote.status).toBe(403);
      expect(demote.body.error.message).toBe('only admins remove the admin role');
      // The editor role views the subscription-free settings; mona (manager) holds that, so she may give it.
      expect((await mona.patch('/v1/companies/beta/members/cora', { role: 'editor' })).status).toBe(200);
      // A manager role customised beyond what mona holds cannot be handed out by her... she holds her own role, so it can.
      expect((await mona.patch('/v1/companies/beta/members/cora', { role: 'manager' })).status).toBe(200);
      expect((await mona.patch('/v1/companies/beta/members/cora', { role: 'collaborator' })).status).toBe(200);
      // Give the editor role a permission managers lack: mona may no longer assign it.
      await bea().put('/v1/companies/beta/roles/company/editor', { permissions: [{ action: 'delete', subject: 'Team' }] });
      const beyond = await mona.patch('/v1/companies/beta/members/cora', { role: 'editor' });
      expect(beyond.status).toBe(403);
      expect(beyond.body.error.details.lacking).toEqual([{ action: 'delete', subject: 'Team' }]);
    });

    it('D11: the last active admin cannot be deactivated, demoted or removed; the owner hands the tag on first', async () => {
      const gamma = as('gil', 'gil@gamma.test');
      await createCompany(gamma, 'gamma');
      const roles = await gamma.get('/v1/companies/gamma/roles');
      const manager = roles.body.company.find((r: { key: string }) => r.key === 'manager');
      await gamma.put('/v1/companies/gamma/roles/company/manager', { permissions: [...manager.permissions, { action: 'edit', subject: 'Member' }] });
      const max = await join('gamma', gamma, 'max', 'manager');
      const last = await max.patch('/v1/companies/gamma/members/gil', { status: 'inactive' });
      expect(last.status).toBe(409);
      expect(last.body.error.code).toBe('last_admin');
      await join('gamma', gamma, 'ada', 'admin');
      // With another admin, the owner is still kept: ownership must move first.
      const owner = await max.patch('/v1/companies/gamma/members/gil', { status: 'inactive' });
      expect(owner.status).toBe(409);
      expect(owner.body.error.code).toBe('conflict');
      const ownerDemoted = await as('ada').patch('/v1/companies/gamma/members/gil', { role: 'manager' });
      expect(ownerDemoted.body.error.code).toBe('conflict');
      const ownerRemoved = await as('ada').delete('/v1/companies/gamma/members/gil');
      expect(ownerRemoved.body.error.code).toBe('conflict');
      // D12: a manager neither deactivates nor removes an admin, even while another active admin remains.
      const silenced = await max.patch('/v1/companies/gamma/members/ada', { status: 'inactive' });
      expect(silenced.status).toBe(403);
      expect(silenced.body.error.message).toBe("only admins change an admin's membership");
      expect((await max.delete('/v1/companies/gamma/members/ada')).status).toBe(403);
      // D10: after a transfer the old owner is an ordinary admin and can be demoted.
      const transfer = await gamma.post('/v1/companies/gamma/ownership', { userId: 'ada' });
      expect(transfer.status).toBe(200);
      expect(transfer.body.owner).toBe('ada');
      expect(await check('gamma', 'ada', 'delete', { type: 'Company' }, transfer.body.version)).toBe(true);
      expect(await check('gamma', 'gil', 'delete', { type: 'Company' }, transfer.body.version)).toBe(false);
      expect((await as('ada').patch('/v1/companies/gamma/members/gil', { role: 'manager' })).status).toBe(200);
      // Now ada is the only active admin.
      const removeLast = await max.patch('/v1/companies/gamma/members/ada', { status: 'inactive' });
      expect(removeLast.body.error.code).toBe('last_admin');
    });

    it('D10: ownership passes only to an active admin, and only from the owner', async () => {
      const notAdmin = await bea().post('/v1/companies/beta/ownership', { userId: 'mona' });
      expect(notAdmin.status).toBe(409);
      expect(notAdmin.body.error.code).toBe('conflict');
      const notOwner = await as('adam').post('/v1/companies/beta/ownership', { userId: 'adam' });
      expect(notOwner.status).toBe(403);
      expect(notOwner.body.error.code).toBe('forbidden');
      const unknown = await bea().post('/v1/companies/beta/ownership', { userId: 'nobody' });
      expect(unknown.status).toBe(404);
    });

    it('D19: removing a member stops their grants at once; nobody removes themself', async () => {
      const { db } = app.app.store;
      await db.insertInto('projects').values({ company_id: 'beta', id: 'p1', name: 'P1' }).execute();
      await db.insertInto('project_grants').values({ company_id: 'beta', project_id: 'p1', role_key: 'contributor', user_id: 'eddie' }).execute();
      expect(await check('beta', 'eddie', 'edit', { type: 'Scenario', attributes: { projectId: 'p1' } })).toBe(true);
      const removed = await bea().delete('/v1/companies/beta/members/eddie');
      expect(removed.status).toBe(200);
      expect(removed.body).toEqual({ version: expect.stringMatching(/^\d+$/) });
      expect(await check('beta', 'eddie', 'view', { type: 'Project', id: 'p1' }, removed.body.version)).toBe(false);
      expect((await bea().get('/v1/companies/beta/members/eddie')).status).toBe(404);
      const self = await bea().delete('/v1/companies/beta/members/bea');
      expect(self.status).toBe(403);
    });

    it('bad input is a 400 naming the field', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ role: 'superuser' }, 'role'],
        [{ status: 'invited' }, 'status'],
        [{ colour: 'blue' }, 'colour'],
        [{}, '(body)'],
      ];
      for (const [body, path] of cases) {
        const response = await bea().patch('/v1/companies/beta/members/cora', body);
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(response.body.error).toMatchObject({ code: 'invalid_request', details: { path } });
      }
      const badEmail = await bea().post('/v1/companies/beta/invitations', { email: 'not-an-email', role: 'editor' });
      expect(badEmail.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'email' } });
    });
  });

  describe('tenancy (D1) and authentication', () => {
    it('an admin of one company cannot read or change another company (404, never data)', async () => {
      const olgaInBeta = await olga.get('/v1/companies/beta/members');
      expect(olgaInBeta.status).toBe(404);
      expect(olgaInBeta.body.error.code).toBe('not_found');
      expect((await olga.patch('/v1/companies/beta/members/cora', { role: 'admin' })).status).toBe(404);
      expect((await olga.post('/v1/companies/beta/invitations', { email: 'x@acme.test', role: 'admin' })).status).toBe(404);
      expect((await olga.delete('/v1/companies/beta/members/cora')).status).toBe(404);
      expect((await olga.get('/v1/companies/beta')).status).toBe(404);
    });

    it('no token or a bad token is 401 unauthenticated', async () => {
      const none = await api(app.url, 'GET', '/v1/companies/acme/members');
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe('unauthenticated');
      const bad = await api(app.url, 'GET', '/v1/companies/acme/members', undefined, { authorization: 'Bearer not.a.jwt' });
      expect(bad.status).toBe(401);
    });

    it('a collaborator cannot list members (403)', async () => {
      const cole = await join('beta', as('bea', 'bea@beta.test'), 'cole', 'collaborator');
      const response = await cole.get('/v1/companies/beta/members');
      expect(response.status).toBe(403);
      expect(response.body.error).toMatchObject({ code: 'forbidden', details: { action: 'view', subject: 'Member' } });
    });
  });
});
