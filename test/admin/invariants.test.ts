import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicies } from '../../src/policy/catalog.js';
import type { Database } from '../../src/store/schema.js';
import { addMember, adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

/**
 * One regression test per hole of the authorization-invariants issue (#11), each written
 * first against the code that had the hole. The property test (escalation.property.test.ts)
 * looks for the ones nobody has thought of yet.
 */
describe.skipIf(!servicesUp)('authorization invariants: the holes of issue 11 stay closed', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let db: Kysely<Database>;
  let olga: AdminClient; // owner and admin of acme
  const defaults = loadPolicies().companyRoles;

  const as = (userId: string) => adminClient(app.url, userId);
  const check = async (company: string, user: string, action: string, resource: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const response = await api(app.url, 'POST', '/v1/check', { company, principal: { id: user }, action, resource, ...extra });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body as { allowed: boolean; reason: string; version: string };
  };
  const version = async (company: string) =>
    String((await db.selectFrom('policy_versions').select('version').where('company_id', '=', company).executeTakeFirstOrThrow()).version);
  const setRole = async (company: string, key: string, permissions: unknown[]) => {
    const response = await olga.put(`/v1/companies/${company}/roles/company/${key}`, { permissions });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
  };
  const membership = (company: string, userId: string) =>
    db.selectFrom('memberships').select(['status', 'role', 'application_access', 'developer_access']).where('company_id', '=', company).where('user_id', '=', userId).executeTakeFirstOrThrow();

  let seq = 0;
  /** A company of its own owned by olga, with p1 and p2 registered. */
  async function company(prefix: string): Promise<string> {
    const id = `${prefix}-${++seq}`;
    await createCompany(olga, id);
    for (const project of ['p1', 'p2']) expect((await olga.put(`/v1/companies/${id}/projects/${project}`, { name: project })).status).toBe(201);
    return id;
  }

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    db = app.app.store.db;
    olga = as('olga');
  });
  afterAll(() => env?.close());

  describe('hole 1: team membership hands out the team project roles only to whoever could grant them directly', () => {
    it('a manager with edit Team cannot put themself (or anyone) into a team holding project-admin, nor take someone out', async () => {
      const c = await company('team');
      await setRole(c, 'manager', [...defaults.manager, { action: 'edit', subject: 'Team' }]);
      await addMember(db, c, 'mgr', 'manager');
      await addMember(db, c, 'carol', 'collaborator');
      expect((await olga.post(`/v1/companies/${c}/teams`, { id: 'ops', name: 'Ops' })).status).toBe(201);
      expect((await olga.put(`/v1/companies/${c}/projects/p1/members/teams/ops`, { role: 'project-admin' })).status).toBe(201);
      expect((await olga.put(`/v1/companies/${c}/teams/ops/members/carol`)).status).toBe(200);
      const mgr = as('mgr');

      expect((await mgr.put(`/v1/companies/${c}/projects/p1/members/users/mgr`, { role: 'project-admin' })).status).toBe(403);
      const before = await version(c);
      const joined = await mgr.put(`/v1/companies/${c}/teams/ops/members/mgr`);
      expect(joined.status, JSON.stringify(joined.body)).toBe(403);
      expect(joined.body.error).toMatchObject({ code: 'forbidden' });
      expect(joined.body.error.details).toMatchObject({ teamId: 'ops', projectId: 'p1', role: 'project-admin' });
      expect(await version(c)).toBe(before);
      expect(await check(c, 'mgr', 'delete', { type: 'Project', id: 'p1' })).toMatchObject({ allowed: false });
      expect((await olga.get(`/v1/companies/${c}/teams/ops`)).body.members).toEqual(['carol']);

      const removed = await mgr.delete(`/v1/companies/${c}/teams/ops/members/carol`);
      expect(removed.status).toBe(403);
      expect((await olga.get(`/v1/companies/${c}/teams/ops`)).body.members).toEqual(['carol']);
      // Deleting the team takes the grant from its members just the same.
      await setRole(c, 'manager', [...defaults.manager, { action: 'edit', subject: 'Team' }, { action: 'delete', subject: 'Team' }]);
      expect((await mgr.delete(`/v1/companies/${c}/teams/ops`)).status).toBe(403);
    });

    it('whoever holds the team role on its project and may invite there adds and removes team members', async () => {
      const c = await company('team-ok');
      await setRole(c, 'collaborator', [{ action: 'edit', subject: 'Team' }]);
      await addMember(db, c, 'lead', 'collaborator');
      await addMember(db, c, 'dora', 'collaborator');
      expect((await olga.put(`/v1/companies/${c}/projects/p1/members/users/lead`, { role: 'project-admin' })).status).toBe(201);
      expect((await olga.post(`/v1/companies/${c}/teams`, { id: 'writers', name: 'Writers' })).status).toBe(201);
      expect((await olga.put(`/v1/companies/${c}/projects/p1/members/teams/writers`, { role: 'contributor' })).status).toBe(201);
      const lead = as('lead');
      const added = await lead.put(`/v1/companies/${c}/teams/writers/members/dora`);
      expect(added.status, JSON.stringify(added.body)).toBe(200);
      expect(await check(c, 'dora', 'edit', { type: 'Scenario', attributes: { projectId: 'p1' } }, { consistency: { minVersion: added.body.version } })).toMatchObject({ allowed: true });
      // A team that also holds a role on p2, where lead has nothing: no longer lead's to fill.
      expect((await olga.put(`/v1/companies/${c}/projects/p2/members/teams/writers`, { role: 'viewer' })).status).toBe(201);
      const removed = await lead.delete(`/v1/companies/${c}/teams/writers/members/dora`);
      expect(removed.status).toBe(403);
      expect(removed.body.error.details).toMatchObject({ projectId: 'p2', role: 'viewer' });
    });
  });

  describe('hole 2: every member PATCH that gives something is a grant', () => {
    it('a manager with edit Member cannot re-activate an admin nor give themself access flags', async () => {
      const c = await company('patch');
      await setRole(c, 'manager', [...defaults.manager, { action: 'edit', subject: 'Member' }]);
      await addMember(db, c, 'mgr', 'manager');
      await addMember(db, c, 'carol', 'admin', { status: 'inactive' });
      const mgr = as('mgr');

      const revived = await mgr.patch(`/v1/companies/${c}/members/carol`, { status: 'active' });
      expect(revived.status).toBe(403);
      expect(revived.body.error).toMatchObject({ code: 'forbidden', message: 'only admins change an admin\'s membership' });
      expect(await membership(c, 'carol')).toMatchObject({ status: 'inactive' });

      const self = await mgr.patch(`/v1/companies/${c}/members/mgr`, { developerAccess: true, applicationAccess: true });
      expect(self.status).toBe(403);
      expect(self.body.error.details.lacking).toEqual([
        { action: 'use', subject: 'Application' },
        { action: 'use', subject: 'Builder' },
      ]);
      expect(await membership(c, 'mgr')).toMatchObject({ application_access: false, developer_access: false });
    });

    it('a non-admin switches on only the flags they hold, and never on an admin', async () => {
      const c = await company('flags');
      await setRole(c, 'manager', [...defaults.manager, { action: 'edit', subject: 'Member' }]);
      await addMember(db, c, 'mgr', 'manager', { applicationAccess: true });
      await addMember(db, c, 'cole', 'collaborator');
      await addMember(db, c, 'ada', 'admin');
      const mgr = as('mgr');
      expect((await mgr.patch(`/v1/companies/${c}/members/cole`, { applicationAccess: true })).status).toBe(200);
      const dev = await mgr.patch(`/v1/companies/${c}/members/cole`, { developerAccess: true });
      expect(dev.status).toBe(403);
      expect(dev.body.error.details.lacking).toEqual([{ action: 'use', subject: 'Builder' }]);
      const onAdmin = await mgr.patch(`/v1/companies/${c}/members/ada`, { applicationAccess: true });
      expect(onAdmin.status).toBe(403);
      expect(await membership(c, 'ada')).toMatchObject({ application_access: false });
      // D12: admins grant themselves application and developer access.
      const own = await olga.patch(`/v1/companies/${c}/members/olga`, { applicationAccess: true, developerAccess: true });
      expect(own.status, JSON.stringify(own.body)).toBe(200);
    });

    it('an invitation carrying access flags is a grant of those flags', async () => {
      const c = await company('invite-flags');
      await addMember(db, c, 'mgr', 'manager', { applicationAccess: true });
      const mgr = as('mgr');
      const dev = await mgr.post(`/v1/companies/${c}/invitations`, { email: 'dev@example.test', role: 'collaborator', developerAccess: true });
      expect(dev.status).toBe(403);
      expect(dev.body.error.details.lacking).toEqual([{ action: 'use', subject: 'Builder' }]);
      const app = await mgr.post(`/v1/companies/${c}/invitations`, { email: 'app@example.test', role: 'collaborator', applicationAccess: true });
      expect(app.status, JSON.stringify(app.body)).toBe(201);
    });

    it('re-activating a member gives back their project and team grants: only someone holding all of it may', async () => {
      const c = await company('revive');
      await setRole(c, 'manager', [...defaults.manager, { action: 'edit', subject: 'Member' }]);
      await addMember(db, c, 'mgr', 'manager');
      await addMember(db, c, 'dave', 'collaborator');
      expect((await olga.post(`/v1/companies/${c}/teams`, { id: 'ops', name: 'Ops' })).status).toBe(201);
      expect((await olga.put(`/v1/companies/${c}/teams/ops/members/dave`)).status).toBe(200);
      expect((await olga.put(`/v1/companies/${c}/projects/p1/members/teams/ops`, { role: 'contributor' })).status).toBe(201);
      expect((await olga.patch(`/v1/companies/${c}/members/dave`, { status: 'inactive' })).status).toBe(200);
      const mgr = as('mgr');

      const revived = await mgr.patch(`/v1/companies/${c}/members/dave`, { status: 'active' });
      expect(revived.status).toBe(403);
      expect(revived.body.error.details.lacking).toContainEqual({ action: 'edit', subject: 'Scenario', projectId: 'p1' });
      expect(await membership(c, 'dave')).toMatchObject({ status: 'inactive' });

      // Once mgr holds contributor's decisions on p1 themself, the re-activation is theirs to make.
      expect((await olga.put(`/v1/companies/${c}/projects/p1/members/users/mgr`, { role: 'contributor' })).status).toBe(201);
      const allowed = await mgr.patch(`/v1/companies/${c}/members/dave`, { status: 'active' });
      expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
      expect(await check(c, 'dave', 'edit', { type: 'Scenario', attributes: { projectId: 'p1' } }, { consistency: { minVersion: allowed.body.version } })).toMatchObject({ allowed: true });
    });
  });

  describe('D23: nobody widens their own rights, admins included (but for their own access flags, D12)', () => {
    it('an admin does not hand themself a project role, directly or through a team, nor grow a role they hold', async () => {
      const c = await company('self');
      await addMember(db, c, 'ada', 'admin');
      await addMember(db, c, 'dora', 'collaborator');
      const ada = as('ada');
      const direct = await ada.put(`/v1/companies/${c}/projects/p1/members/users/ada`, { role: 'contributor' });
      expect(direct.status).toBe(403);
      expect(direct.body.error.message).toBe('nobody widens their own rights (D23): another member who holds these may give them to you');
      expect(direct.body.error.details.lacking).toContainEqual({ action: 'edit', subject: 'Scenario', projectId: 'p1' });
      // Another admin may.
      expect((await olga.put(`/v1/companies/${c}/projects/p1/members/users/ada`, { role: 'viewer' })).status).toBe(201);

      expect((await olga.post(`/v1/companies/${c}/teams`, { id: 'ops', name: 'Ops' })).status).toBe(201);
      expect((await olga.put(`/v1/companies/${c}/projects/p2/members/teams/ops`, { role: 'viewer' })).status).toBe(201);
      const viaTeam = await ada.put(`/v1/companies/${c}/teams/ops/members/ada`);
      expect(viaTeam.status).toBe(403);
      expect((await olga.get(`/v1/companies/${c}/teams/ops`)).body.members).toEqual([]);
      expect((await ada.put(`/v1/companies/${c}/teams/ops/members/dora`)).status).toBe(200);

      const grown = await ada.put(`/v1/companies/${c}/roles/project/viewer`, { name: 'Viewer', permissions: [{ action: 'view', subject: 'Scenario' }, { action: 'edit', subject: 'Scenario' }] });
      expect(grown.status).toBe(403);
      expect(grown.body.error.details.lacking).toEqual([{ action: 'edit', subject: 'Scenario', projectId: 'p1' }]);
      expect((await olga.get(`/v1/companies/${c}/roles`)).body.project.find((r: { key: string }) => r.key === 'viewer').permissions).toHaveLength(2);
      expect(await check(c, 'ada', 'edit', { type: 'Scenario', attributes: { projectId: 'p1' } })).toMatchObject({ allowed: false });

      const flags = await ada.patch(`/v1/companies/${c}/members/ada`, { applicationAccess: true, developerAccess: true });
      expect(flags.status, JSON.stringify(flags.body)).toBe(200);
    });

    it('a project\'s creator administers it (D15), and only an admin names someone else as its creator', async () => {
      const c = await company('creator');
      await addMember(db, c, 'mgr', 'manager');
      await addMember(db, c, 'dora', 'collaborator');
      const mgr = as('mgr');
      const own = await mgr.put(`/v1/companies/${c}/projects/p-mgr`, { name: 'Mine' });
      expect(own.status, JSON.stringify(own.body)).toBe(201);
      expect(await check(c, 'mgr', 'delete', { type: 'Scenario', attributes: { projectId: 'p-mgr' } }, { consistency: { minVersion: own.body.version } })).toMatchObject({ allowed: true });
      const forOther = await mgr.put(`/v1/companies/${c}/projects/p-dora`, { name: 'Hers', creatorId: 'dora' });
      expect(forOther.status).toBe(403);
      expect(forOther.body.error.message).toBe('only admins register a project for another creator');
      expect((await olga.put(`/v1/companies/${c}/projects/p-dora`, { name: 'Hers', creatorId: 'dora' })).status).toBe(201);
    });
  });

  describe('hole 4: the order of a role\'s permissions never changes its decisions', () => {
    it('a restriction listed before the permission it narrows still narrows it', async () => {
      const c = await company('order');
      await setRole(c, 'editor', [
        { action: 'view', subject: 'CompanySettings', fields: ['subscription'], inverted: true },
        { action: 'view', subject: 'CompanySettings' },
      ]);
      await addMember(db, c, 'ed', 'editor');
      expect(await check(c, 'ed', 'view', { type: 'CompanySettings' }, { field: 'subscription' })).toMatchObject({ allowed: false });
      expect(await check(c, 'ed', 'view', { type: 'CompanySettings' }, { field: 'general' })).toMatchObject({ allowed: true });
      const seen = await as('ed').get(`/v1/companies/${c}`);
      expect(seen.status).toBe(200);
      expect(seen.body.plan).toBeUndefined();
      expect(seen.body.usage).toBeUndefined();
    });
  });

  describe('hole 5: company roles hold company-level permissions only (D9, D18)', () => {
    it.each([
      ['delete Scenario', { action: 'delete', subject: 'Scenario' }],
      ['view ProjectInformation', { action: 'view', subject: 'ProjectInformation' }],
      ['invite ProjectMember', { action: 'invite', subject: 'ProjectMember' }],
      ['edit Project', { action: 'edit', subject: 'Project' }],
      ['manage Project', { action: 'manage', subject: 'Project' }],
    ])('%s in a company role: 400 invalid_request at its path, nothing stored', async (_label, permission) => {
      const c = await company('reach');
      const response = await olga.put(`/v1/companies/${c}/roles/company/editor`, { permissions: [{ action: 'view', subject: 'Project' }, permission] });
      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'permissions.1' } });
      const roles = await olga.get(`/v1/companies/${c}/roles`);
      expect(roles.body.company.find((r: { key: string }) => r.key === 'editor').permissions).toEqual(defaults.editor);
    });

    it('create and view Project stay company-level', async () => {
      const c = await company('reach-ok');
      await setRole(c, 'collaborator', [{ action: 'create', subject: 'Project' }, { action: 'view', subject: 'Project' }]);
    });
  });

  describe('hole 6: project roles only allow (D16)', () => {
    it('an inverted permission in a project role: 400 invalid_request at its path', async () => {
      const c = await company('neuter');
      const created = await olga.post(`/v1/companies/${c}/roles/project`, { key: 'muzzle', name: 'Muzzle', permissions: [{ action: 'view', subject: 'Scenario' }, { action: 'manage', subject: 'Project', inverted: true }] });
      expect(created.status).toBe(400);
      expect(created.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'permissions.1' } });
      const edited = await olga.put(`/v1/companies/${c}/roles/project/viewer`, { name: 'Viewer', permissions: [{ action: 'view', subject: 'Scenario', inverted: true }] });
      expect(edited.status).toBe(400);
      expect(edited.body.error.details.path).toBe('permissions.0');
    });
  });

  describe('hole 7: local users are never admins or owners (D3)', () => {
    it('making a local user admin, creating one as admin or handing one ownership: 409 conflict', async () => {
      const c = await company('local');
      const created = await olga.post(`/v1/companies/${c}/local-users`, { login: 'lou', password: 'correct horse battery', firstName: 'Lou', lastName: 'Local', role: 'collaborator' });
      expect(created.status).toBe(201);
      const promoted = await olga.patch(`/v1/companies/${c}/members/${created.body.userId}`, { role: 'admin' });
      expect(promoted.status).toBe(409);
      expect(promoted.body.error).toMatchObject({ code: 'conflict', message: 'local users cannot be admins: administration is for platform users (D3)' });
      expect(await membership(c, created.body.userId)).toMatchObject({ role: 'collaborator' });

      const asAdmin = await olga.post(`/v1/companies/${c}/local-users`, { login: 'lia', password: 'correct horse battery', firstName: 'Lia', lastName: 'Local', role: 'admin' });
      expect(asAdmin.status).toBe(409);
      expect(asAdmin.body.error.code).toBe('conflict');

      // A local admin left over from before the rule: still never the owner.
      await db.updateTable('memberships').set({ role: 'admin' }).where('company_id', '=', c).where('user_id', '=', created.body.userId).execute();
      const handed = await olga.post(`/v1/companies/${c}/ownership`, { userId: created.body.userId });
      expect(handed.status).toBe(409);
      expect(handed.body.error.code).toBe('conflict');
    });
  });

  describe('hole 8: a decision about a project not registered in the company is a deny (D15)', () => {
    it('admins and editors get nothing on projects the company never registered, or another company did', async () => {
      const c = await company('unregistered');
      const other = await company('other');
      expect((await olga.put(`/v1/companies/${other}/projects/p-theirs`, { name: 'Theirs' })).status).toBe(201);
      await addMember(db, c, 'ed', 'editor');
      for (const project of ['p-never', 'p-theirs']) {
        const deleted = await check(c, 'olga', 'delete', { type: 'Project', id: project });
        expect(deleted).toMatchObject({ allowed: false, reason: `project ${project} is not registered in ${c}` });
        expect(await check(c, 'ed', 'view', { type: 'Project', id: project })).toMatchObject({ allowed: false, reason: `project ${project} is not registered in ${c}` });
        expect(await check(c, 'olga', 'invite', { type: 'ProjectMember', attributes: { projectId: project } })).toMatchObject({ allowed: false });
      }
      expect(await check(c, 'ed', 'view', { type: 'Project', id: 'p1' })).toMatchObject({ allowed: true });
      expect(await check(c, 'olga', 'delete', { type: 'Project', id: 'p1' })).toMatchObject({ allowed: true });
      // Creating is the one decision about a project that is not registered yet.
      expect(await check(c, 'olga', 'create', { type: 'Project', id: 'p-new' })).toMatchObject({ allowed: true });
    });

    it('a registration and a removal move the version, and the next check follows', async () => {
      const c = await company('register');
      await addMember(db, c, 'ed', 'editor');
      expect(await check(c, 'ed', 'view', { type: 'Project', id: 'p3' })).toMatchObject({ allowed: false });
      const registered = await olga.put(`/v1/companies/${c}/projects/p3`, { name: 'p3' });
      expect(registered.status).toBe(201);
      expect(await check(c, 'ed', 'view', { type: 'Project', id: 'p3' })).toMatchObject({ allowed: true, version: registered.body.version });
      const removed = await olga.delete(`/v1/companies/${c}/projects/p3`);
      expect(await check(c, 'ed', 'view', { type: 'Project', id: 'p3' })).toMatchObject({ allowed: false, version: removed.body.version });
    });

    it('the exported rules and /v1/accessible agree: only registered projects', async () => {
      const c = await company('export');
      await addMember(db, c, 'ed', 'editor');
      const accessible = await api(app.url, 'POST', '/v1/accessible', { company: c, principal: { id: 'ed' }, action: 'view', resourceType: 'Project' });
      expect(accessible.body).toMatchObject({ kind: 'some', ids: ['p1', 'p2'] });
    });
  });

  describe('hole 9: a minVersion the store has not reached is refused, never answered from older data', () => {
    it('503 unavailable with the current version', async () => {
      const c = await company('ahead');
      const current = await version(c);
      const response = await api(app.url, 'POST', '/v1/check', {
        company: c,
        principal: { id: 'olga' },
        action: 'delete',
        resource: { type: 'Company' },
        consistency: { minVersion: '99999999999999999999' },
      });
      expect(response.status).toBe(503);
      expect(response.body.error).toMatchObject({ code: 'unavailable', details: { currentVersion: current, minVersion: '99999999999999999999' } });
    });
  });

  describe('hole 10: managers manage users (seed: User Management is for Company Admin and Company Manager)', () => {
    it('a default manager views and invites members, never as admin', async () => {
      const c = await company('manager');
      await addMember(db, c, 'mgr', 'manager');
      const mgr = as('mgr');
      expect((await mgr.get(`/v1/companies/${c}/members`)).status).toBe(200);
      const invited = await mgr.post(`/v1/companies/${c}/invitations`, { email: 'new@example.test', role: 'collaborator' });
      expect(invited.status, JSON.stringify(invited.body)).toBe(201);
      const admin = await mgr.post(`/v1/companies/${c}/invitations`, { email: 'boss@example.test', role: 'admin' });
      expect(admin.status).toBe(403);
      expect(admin.body.error.message).toBe('only admins assign the admin role');
    });
  });
});
