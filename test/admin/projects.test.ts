import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantStep, registerStep, rolesToHold } from '../../src/admin/projects/decisions.js';
import type { StoredPermission } from '../../src/policy/types.js';
import type { Database } from '../../src/store/schema.js';
import { addMember, adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

describe('project decisions', () => {
  it('registering is idempotent: only a new name is a change', () => {
    expect(registerStep(undefined, 'A')).toBe('create');
    expect(registerStep({ name: 'A' }, 'A')).toBe('unchanged');
    expect(registerStep({ name: 'A' }, 'B')).toBe('rename');
  });

  it('a grant write needs invite when new, edit when changed, nothing when the same', () => {
    expect(grantStep(null, 'viewer')).toBe('invite');
    expect(grantStep('viewer', 'contributor')).toBe('edit');
    expect(grantStep('viewer', 'viewer')).toBe('unchanged');
  });

  it('the caller must hold both the role handed out and the role taken away', () => {
    expect(rolesToHold(null, 'viewer')).toEqual(['viewer']);
    expect(rolesToHold('project-admin', 'viewer')).toEqual(['project-admin', 'viewer']);
    expect(rolesToHold('viewer', null)).toEqual(['viewer']);
    expect(rolesToHold('viewer', 'viewer')).toEqual(['viewer']);
  });
});

describe.skipIf(!servicesUp)('admin API: projects and project grants (D8, D15-D19, D22)', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let db: Kysely<Database>;
  let olga: AdminClient; // owner and admin of acme
  let bea: AdminClient; // owner and admin of beta
  let mia: AdminClient; // manager of acme
  let ed: AdminClient; // editor of acme
  let cole: AdminClient; // collaborator of acme, no project role anywhere

  const as = (userId: string) => adminClient(app.url, userId);
  const version = async (company: string) =>
    String((await db.selectFrom('policy_versions').select('version').where('company_id', '=', company).executeTakeFirstOrThrow()).version);
  const auditOf = (target: string) =>
    db.selectFrom('audit_log').select(['actor', 'action', 'target', 'before', 'after', 'version']).where('company_id', '=', 'acme').where('target', '=', target).orderBy('id').execute();
  const next = (v: string) => String(BigInt(v) + 1n);

  const check = async (user: string, action: string, resource: Record<string, unknown>, minVersion?: string) => {
    const response = await api(app.url, 'POST', '/v1/check', {
      company: 'acme',
      principal: { id: user },
      action,
      resource,
      ...(minVersion ? { consistency: { minVersion } } : {}),
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body as { allowed: boolean; reason: string; version: string };
  };
  const scenario = (projectId: string) => ({ type: 'Scenario', id: 's1', attributes: { projectId } });

  async function register(client: AdminClient, projectId: string, extra: Record<string, unknown> = {}) {
    const response = await client.put(`/v1/companies/acme/projects/${projectId}`, { name: `Project ${projectId}`, ...extra });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body as { id: string; name: string; createdBy: string; createdAt: string; version: string };
  }
  async function grant(client: AdminClient, projectId: string, grantee: string, role: string, status = 201) {
    const response = await client.put(`/v1/companies/acme/projects/${projectId}/members/${grantee}`, { role });
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    return response.body.version as string;
  }
  function expectError(response: { status: number; body: any }, status: number, code: string) {
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    expect(Object.keys(response.body)).toEqual(['error']);
    expect(response.body.error.code).toBe(code);
  }

  const customRole = (key: string, permissions: StoredPermission[]) =>
    db.insertInto('project_roles').values({ company_id: 'acme', key, name: key, permissions: JSON.stringify(permissions) }).execute();

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    db = app.app.store.db;
    olga = as('olga');
    bea = as('bea');
    mia = as('mia');
    ed = as('ed');
    cole = as('cole');
    await createCompany(olga, 'acme');
    await createCompany(bea, 'beta');
    await addMember(db, 'acme', 'mia', 'manager');
    await addMember(db, 'acme', 'ed', 'editor');
    for (const user of ['cole', 'ann', 'ben', 'carol', 'dave', 'gus', 'hal']) await addMember(db, 'acme', user, 'collaborator');
    await addMember(db, 'acme', 'ivy', 'collaborator', { status: 'invited' });
    await addMember(db, 'acme', 'ina', 'collaborator', { status: 'inactive' });
    await addMember(db, 'beta', 'bert', 'collaborator');
    // The roles API has its own tests: custom project roles are written straight into the store.
    await customRole('inviter', [{ action: 'invite', subject: 'ProjectMember' }]);
    await customRole('gatekeeper', [
      { action: 'invite', subject: 'ProjectMember' },
      { action: 'edit', subject: 'ProjectMember' },
      { action: 'remove', subject: 'ProjectMember' },
      { action: 'view', subject: 'Scenario' },
      { action: 'view', subject: 'ProjectInformation' },
    ]);
    const bp = await bea.put('/v1/companies/beta/projects/bp', { name: 'Beta project' });
    expect(bp.status, JSON.stringify(bp.body)).toBe(201);
  });
  afterAll(() => env?.close());

  describe('registering a project (D15)', () => {
    it('new: 201 with the project and a new version; the creator gets project-admin on it; audited', async () => {
      const before = await version('acme');
      const response = await olga.put('/v1/companies/acme/projects/p1', { name: 'Project one' });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({ id: 'p1', name: 'Project one', createdBy: 'olga', createdAt: expect.any(String), version: next(before) });
      expect(Date.parse(response.body.createdAt)).toBeGreaterThan(Date.now() - 60_000);
      const members = await olga.get('/v1/companies/acme/projects/p1/members');
      expect(members.status).toBe(200);
      expect(members.body).toEqual({ users: [{ userId: 'olga', role: 'project-admin' }], teams: [] });
      // Admins get no scenarios without a project role (D18): this one comes from project-admin.
      const decision = await check('olga', 'delete', scenario('p1'), response.body.version);
      expect(decision).toEqual({ allowed: true, reason: 'role project-admin on project p1 allows delete Scenario', version: response.body.version });
      expect((await check('olga', 'delete', scenario('p2'), response.body.version)).allowed).toBe(false);
      const project = { id: 'p1', name: 'Project one', createdBy: 'olga', createdAt: response.body.createdAt };
      expect(await auditOf('project:p1')).toEqual([{ actor: 'olga', action: 'project.register', target: 'project:p1', before: null, after: project, version: response.body.version }]);
      expect(await auditOf('grant:p1/user:olga')).toEqual([
        { actor: 'olga', action: 'project.grant.user.put', target: 'grant:p1/user:olga', before: null, after: { role: 'project-admin' }, version: response.body.version },
      ]);
    });

    it('the same name again: 200, nothing changed, the version kept, nothing audited', async () => {
      const first = await register(olga, 'p-idem');
      const again = await olga.put('/v1/companies/acme/projects/p-idem', { name: 'Project p-idem' });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first);
      expect(await version('acme')).toBe(first.version);
      // creatorId only matters when the project is new.
      const withCreator = await olga.put('/v1/companies/acme/projects/p-idem', { name: 'Project p-idem', creatorId: 'ann' });
      expect(withCreator.status).toBe(200);
      expect(withCreator.body).toEqual(first);
      expect((await olga.get('/v1/companies/acme/projects/p-idem/members')).body.users).toEqual([{ userId: 'olga', role: 'project-admin' }]);
      expect((await auditOf('project:p-idem')).map((e) => e.action)).toEqual(['project.register']);
    });

    it('another name: 200 renamed (edit Project), the version kept since no decision changes, audited before/after', async () => {
      const first = await register(olga, 'p-rn');
      const renamed = await olga.put('/v1/companies/acme/projects/p-rn', { name: 'Better name' });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toEqual({ ...first, name: 'Better name' });
      expect((await auditOf('project:p-rn')).map((e) => [e.action, e.before, e.after])).toEqual([
        ['project.register', null, { id: 'p-rn', name: 'Project p-rn', createdBy: 'olga', createdAt: first.createdAt }],
        ['project.rename', { name: 'Project p-rn' }, { name: 'Better name' }],
      ]);
    });

    it('D8: a manager registers a project and gets project-admin on it; a collaborator or an editor cannot (403)', async () => {
      const created = await register(mia, 'p-mia');
      expect(created.createdBy).toBe('mia');
      expect((await check('mia', 'edit', scenario('p-mia'), created.version)).allowed).toBe(true);
      expect((await check('mia', 'invite', { type: 'ProjectMember', attributes: { projectId: 'p-mia' } }, created.version)).allowed).toBe(true);
      for (const client of [cole, ed]) {
        expectError(await client.put('/v1/companies/acme/projects/p-nope', { name: 'Nope' }), 403, 'forbidden');
      }
      expectError(await olga.get('/v1/companies/acme/projects/p-nope/members'), 404, 'not_found');
    });

    it('a manager may repeat a registration but not rename a project they have no role on; a collaborator may do neither', async () => {
      await register(olga, 'p-olga');
      expect((await mia.put('/v1/companies/acme/projects/p-olga', { name: 'Project p-olga' })).status).toBe(200);
      expectError(await mia.put('/v1/companies/acme/projects/p-olga', { name: 'Taken over' }), 403, 'forbidden');
      expectError(await cole.put('/v1/companies/acme/projects/p-olga', { name: 'Project p-olga' }), 403, 'forbidden');
      expectError(await cole.put('/v1/companies/acme/projects/p-olga', { name: 'Taken over' }), 403, 'forbidden');
      // Its own project-admin may rename it (manage Project).
      expect((await mia.put('/v1/companies/acme/projects/p-mia', { name: 'Mia renamed' })).status).toBe(200);
    });

    it('creatorId names who gets project-admin; no membership is 404, an invited or inactive member 409 conflict', async () => {
      const created = await register(olga, 'p-ann', { creatorId: 'ann' });
      expect(created.createdBy).toBe('ann');
      expect((await olga.get('/v1/companies/acme/projects/p-ann/members')).body).toEqual({ users: [{ userId: 'ann', role: 'project-admin' }], teams: [] });
      expect((await check('ann', 'edit', { type: 'ProjectInformation', attributes: { projectId: 'p-ann' } }, created.version)).allowed).toBe(true);

      for (const [creatorId, status, code] of [
        ['nobody', 404, 'not_found'],
        ['bert', 404, 'not_found'], // a member of beta only (D1)
        ['ivy', 409, 'conflict'],
        ['ina', 409, 'conflict'],
      ] as const) {
        const before = await version('acme');
        expectError(await olga.put('/v1/companies/acme/projects/p-bad', { name: 'Bad', creatorId }), status, code);
        expect(await version('acme')).toBe(before);
      }
      expectError(await olga.get('/v1/companies/acme/projects/p-bad/members'), 404, 'not_found');
    });

    it('bad bodies and ids are 400 invalid_request', async () => {
      // creatorId is a user id (any 1-255 characters without control characters): 'a b' is one, a NUL or 256 characters are not.
      for (const body of [{}, { name: '' }, { name: 'x', owner: 'olga' }, { name: 'x', creatorId: 'a\u0000b' }, { name: 'x', creatorId: 'x'.repeat(256) }]) {
        expectError(await olga.put('/v1/companies/acme/projects/p-400', body), 400, 'invalid_request');
      }
      expectError(await olga.put(`/v1/companies/acme/projects/${'x'.repeat(129)}`, { name: 'x' }), 400, 'invalid_request');
      expectError(await api(app.url, 'PUT', '/v1/companies/acme/projects/p-anon', { name: 'x' }), 401, 'unauthenticated');
    });
  });

  describe('grants to users and teams (D16, D17, D19)', () => {
    it('a new grant is 201; the same again 200 with the version kept; a new role 200 with a new version; each change audited', async () => {
      await register(olga, 'p-crud');
      const before = await version('acme');
      const created = await olga.put('/v1/companies/acme/projects/p-crud/members/users/ann', { role: 'contributor' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ userId: 'ann', role: 'contributor', version: next(before) });
      expect(await check('ann', 'edit', scenario('p-crud'), created.body.version)).toEqual({
        allowed: true,
        reason: 'role contributor on project p-crud allows edit Scenario',
        version: created.body.version,
      });

      const again = await olga.put('/v1/companies/acme/projects/p-crud/members/users/ann', { role: 'contributor' });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(created.body);
      expect(await version('acme')).toBe(created.body.version);

      const changed = await olga.put('/v1/companies/acme/projects/p-crud/members/users/ann', { role: 'viewer' });
      expect(changed.status).toBe(200);
      expect(changed.body).toEqual({ userId: 'ann', role: 'viewer', version: next(created.body.version) });
      expect((await check('ann', 'edit', scenario('p-crud'), changed.body.version)).allowed).toBe(false);
      expect((await check('ann', 'view', scenario('p-crud'), changed.body.version)).allowed).toBe(true);

      expect(await auditOf('grant:p-crud/user:ann')).toEqual([
        { actor: 'olga', action: 'project.grant.user.put', target: 'grant:p-crud/user:ann', before: null, after: { role: 'contributor' }, version: created.body.version },
        { actor: 'olga', action: 'project.grant.user.put', target: 'grant:p-crud/user:ann', before: { role: 'contributor' }, after: { role: 'viewer' }, version: changed.body.version },
      ]);
    });

    it('team grants: 201 with teamId; listed with user grants; a member of the team gets the role', async () => {
      await register(olga, 'p-team');
      expect((await olga.post('/v1/companies/acme/teams', { id: 'crew', name: 'Crew' })).status).toBe(201);
      expect((await olga.put('/v1/companies/acme/teams/crew/members/ben')).status).toBe(200);
      const created = await olga.put('/v1/companies/acme/projects/p-team/members/teams/crew', { role: 'viewer' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ teamId: 'crew', role: 'viewer', version: expect.stringMatching(/^\d+$/) });
      expect((await check('ben', 'view', scenario('p-team'), created.body.version)).reason).toBe('role viewer via team crew on project p-team allows view Scenario');
      await grant(olga, 'p-team', 'users/dave', 'contributor');
      const members = await olga.get('/v1/companies/acme/projects/p-team/members');
      expect(members.status).toBe(200);
      expect(members.body).toEqual({
        users: [
          { userId: 'dave', role: 'contributor' },
          { userId: 'olga', role: 'project-admin' },
        ],
        teams: [{ teamId: 'crew', role: 'viewer' }],
      });
      expect((await auditOf('grant:p-team/team:crew'))[0]).toMatchObject({ action: 'project.grant.team.put', before: null, after: { role: 'viewer' } });
    });

    it('unknown project, user, team or role: 404 not_found, and nothing changes', async () => {
      await register(olga, 'p-404');
      const before = await version('acme');
      for (const [path, role] of [
        ['/v1/companies/acme/projects/nope/members/users/ann', 'viewer'],
        ['/v1/companies/acme/projects/p-404/members/users/nobody', 'viewer'],
        ['/v1/companies/acme/projects/p-404/members/users/bert', 'viewer'], // member of beta only (D1)
        ['/v1/companies/acme/projects/p-404/members/teams/nope', 'viewer'],
        ['/v1/companies/acme/projects/p-404/members/users/ann', 'nope'],
        ['/v1/companies/acme/projects/p-404/members/teams/crew', 'nope'],
      ] as const) {
        expectError(await olga.put(path, { role }), 404, 'not_found');
      }
      for (const path of [
        '/v1/companies/acme/projects/nope/members/users/ann',
        '/v1/companies/acme/projects/p-404/members/users/ann', // no grant
        '/v1/companies/acme/projects/p-404/members/users/nobody',
        '/v1/companies/acme/projects/p-404/members/teams/nope',
        '/v1/companies/acme/projects/p-404/members/teams/crew', // no grant
      ]) {
        expectError(await olga.delete(path), 404, 'not_found');
      }
      expectError(await olga.get('/v1/companies/acme/projects/nope/members'), 404, 'not_found');
      expect(await version('acme')).toBe(before);
    });

    it('bad grant bodies are 400 invalid_request', async () => {
      for (const body of [{}, { role: 'viewer', until: 'never' }, { role: 'a b' }, { role: 7 }]) {
        expectError(await olga.put('/v1/companies/acme/projects/p-404/members/users/ann', body), 400, 'invalid_request');
      }
    });

    it('removing a grant: 200 {version}, it stops granting at once, audited; removing it again is 404', async () => {
      await register(olga, 'p-rm');
      const v = await grant(olga, 'p-rm', 'users/hal', 'contributor');
      expect((await check('hal', 'edit', scenario('p-rm'), v)).allowed).toBe(true);
      const removed = await olga.delete('/v1/companies/acme/projects/p-rm/members/users/hal');
      expect(removed.status).toBe(200);
      expect(removed.body).toEqual({ version: next(v) });
      expect((await check('hal', 'edit', scenario('p-rm'), removed.body.version)).allowed).toBe(false);
      expect((await check('hal', 'view', { type: 'Project', id: 'p-rm' })).allowed).toBe(false);
      expect((await auditOf('grant:p-rm/user:hal')).at(-1)).toEqual({
        actor: 'olga',
        action: 'project.grant.user.delete',
        target: 'grant:p-rm/user:hal',
        before: { role: 'contributor' },
        after: null,
        version: removed.body.version,
      });
      expectError(await olga.delete('/v1/companies/acme/projects/p-rm/members/users/hal'), 404, 'not_found');
    });

    it('reading the members needs view ProjectMember on that project: a collaborator or a manager without a role there gets 403', async () => {
      expectError(await cole.get('/v1/companies/acme/projects/p1/members'), 403, 'forbidden');
      expectError(await mia.get('/v1/companies/acme/projects/p1/members'), 403, 'forbidden');
      expect((await mia.get('/v1/companies/acme/projects/p-mia/members')).status).toBe(200); // project-admin there
    });

    it('a collaborator with no project role cannot grant, change or remove (403)', async () => {
      expectError(await cole.put('/v1/companies/acme/projects/p1/members/users/cole', { role: 'viewer' }), 403, 'forbidden');
      expectError(await cole.put('/v1/companies/acme/projects/p1/members/users/olga', { role: 'viewer' }), 403, 'forbidden');
      expectError(await cole.delete('/v1/companies/acme/projects/p1/members/users/olga'), 403, 'forbidden');
      expect((await olga.get('/v1/companies/acme/projects/p1/members')).body.users).toEqual([{ userId: 'olga', role: 'project-admin' }]);
    });
  });

  describe('no privilege escalation through grants', () => {
    let v: string;
    beforeAll(async () => {
      await register(olga, 'p-esc');
      await register(olga, 'p-other');
      // carol is a contributor on p-esc, and may invite there through the leads team's custom role.
      await grant(olga, 'p-esc', 'users/carol', 'contributor');
      expect((await olga.post('/v1/companies/acme/teams', { id: 'leads', name: 'Leads' })).status).toBe(201);
      expect((await olga.put('/v1/companies/acme/teams/leads/members/carol')).status).toBe(200);
      await grant(olga, 'p-esc', 'teams/leads', 'inviter');
      v = await grant(olga, 'p-esc', 'users/gus', 'gatekeeper');
    });

    it('a contributor with invite ProjectMember cannot grant project-admin (403 forbidden, naming what they lack)', async () => {
      const carol = as('carol');
      expect((await check('carol', 'invite', { type: 'ProjectMember', attributes: { projectId: 'p-esc' } }, v)).allowed).toBe(true);
      const before = await version('acme');
      const response = await carol.put('/v1/companies/acme/projects/p-esc/members/users/dave', { role: 'project-admin' });
      expectError(response, 403, 'forbidden');
      expect(response.body.error.details).toMatchObject({ role: 'project-admin', projectId: 'p-esc' });
      expect(response.body.error.details.lacking).toContainEqual({ action: 'manage', subject: 'Project', projectId: 'p-esc' });
      expect(response.body.error.details.lacking).not.toContainEqual({ action: 'view', subject: 'Scenario', projectId: 'p-esc' });
      expect(await version('acme')).toBe(before);
      expect((await olga.get('/v1/companies/acme/projects/p-esc/members')).body.users.map((u: { userId: string }) => u.userId)).not.toContain('dave');
    });

    it('but can grant viewer, whose permissions they hold on that project; not on another project', async () => {
      const carol = as('carol');
      const created = await carol.put('/v1/companies/acme/projects/p-esc/members/users/dave', { role: 'viewer' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ userId: 'dave', role: 'viewer', version: expect.stringMatching(/^\d+$/) });
      expect((await check('dave', 'view', scenario('p-esc'), created.body.version)).allowed).toBe(true);
      expect((await carol.put('/v1/companies/acme/projects/p-esc/members/users/dave', { role: 'viewer' })).status).toBe(200);
      expect((await carol.put('/v1/companies/acme/projects/p-esc/members/users/ben', { role: 'contributor' })).status).toBe(201);
      expectError(await carol.put('/v1/companies/acme/projects/p-other/members/users/dave', { role: 'viewer' }), 403, 'forbidden');
    });

    it('invite alone does not allow changing or removing a grant (edit and remove ProjectMember)', async () => {
      const carol = as('carol');
      expectError(await carol.put('/v1/companies/acme/projects/p-esc/members/users/dave', { role: 'contributor' }), 403, 'forbidden');
      expectError(await carol.delete('/v1/companies/acme/projects/p-esc/members/users/dave'), 403, 'forbidden');
      expect((await olga.get('/v1/companies/acme/projects/p-esc/members')).body.users).toContainEqual({ userId: 'dave', role: 'viewer' });
    });

    it('edit and remove ProjectMember do not let one demote or remove a role one does not hold', async () => {
      const gus = as('gus');
      const demote = await gus.put('/v1/companies/acme/projects/p-esc/members/users/olga', { role: 'viewer' });
      expectError(demote, 403, 'forbidden');
      expect(demote.body.error.details.role).toBe('project-admin');
      expectError(await gus.delete('/v1/companies/acme/projects/p-esc/members/users/olga'), 403, 'forbidden');
      expectError(await gus.put('/v1/companies/acme/projects/p-esc/members/users/dave', { role: 'contributor' }), 403, 'forbidden');
      // Within what gus holds, edit and remove work.
      const removed = await gus.delete('/v1/companies/acme/projects/p-esc/members/users/dave');
      expect(removed.status).toBe(200);
      expect((await check('dave', 'view', scenario('p-esc'), removed.body.version)).allowed).toBe(false);
      expect((await olga.get('/v1/companies/acme/projects/p-esc/members')).body.users).toContainEqual({ userId: 'olga', role: 'project-admin' });
    });

    it('company admins are exempt (D18): they grant any role on any project', async () => {
      expect((await olga.put('/v1/companies/acme/projects/p-other/members/users/carol', { role: 'project-admin' })).status).toBe(201);
    });
  });

  describe('deleting a project (D19)', () => {
    it('needs delete Project on it (403); then 200 {version}, its grants go at once, audited with them; again 404', async () => {
      await register(olga, 'p-del');
      const v = await grant(olga, 'p-del', 'users/ben', 'contributor');
      expect((await check('ben', 'edit', scenario('p-del'), v)).allowed).toBe(true);
      expectError(await cole.delete('/v1/companies/acme/projects/p-del'), 403, 'forbidden');
      expectError(await mia.delete('/v1/companies/acme/projects/p-del'), 403, 'forbidden');
      expectError(await as('ben').delete('/v1/companies/acme/projects/p-del'), 403, 'forbidden'); // a contributor there

      const deleted = await olga.delete('/v1/companies/acme/projects/p-del');
      expect(deleted.status).toBe(200);
      expect(deleted.body).toEqual({ version: next(v) });
      expect((await check('ben', 'edit', scenario('p-del'), deleted.body.version)).allowed).toBe(false);
      expect((await check('ben', 'view', { type: 'Project', id: 'p-del' })).allowed).toBe(false);
      expect(await db.selectFrom('project_grants').select('id').where('company_id', '=', 'acme').where('project_id', '=', 'p-del').execute()).toEqual([]);
      expectError(await olga.get('/v1/companies/acme/projects/p-del/members'), 404, 'not_found');
      expectError(await olga.delete('/v1/companies/acme/projects/p-del'), 404, 'not_found');
      expect((await auditOf('project:p-del')).at(-1)).toMatchObject({
        action: 'project.delete',
        before: {
          id: 'p-del',
          members: {
            users: [
              { userId: 'ben', role: 'contributor' },
              { userId: 'olga', role: 'project-admin' },
            ],
            teams: [],
          },
        },
        after: null,
        version: deleted.body.version,
      });

      // Registered again, it starts from its creator alone.
      await register(olga, 'p-del');
      expect((await olga.get('/v1/companies/acme/projects/p-del/members')).body).toEqual({ users: [{ userId: 'olga', role: 'project-admin' }], teams: [] });
    });

    it("a non-admin project-admin may delete their project (manage Project)", async () => {
      const created = await register(olga, 'p-ann-del', { creatorId: 'ann' });
      expect((await check('ann', 'delete', { type: 'Project', id: 'p-ann-del' }, created.version)).allowed).toBe(true);
      expect((await as('ann').delete('/v1/companies/acme/projects/p-ann-del')).status).toBe(200);
    });
  });

  describe('concurrent repeats (the registering service retries)', () => {
    it('ten identical registrations at once: one 201, nine 200 with the same project, one creator grant', async () => {
      const responses = await Promise.all(Array.from({ length: 10 }, () => olga.put('/v1/companies/acme/projects/p-race', { name: 'Race' })));
      expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      const created = responses.find((r) => r.status === 201)!.body;
      for (const response of responses) expect({ ...response.body, version: undefined }).toEqual({ ...created, version: undefined });
      expect((await olga.get('/v1/companies/acme/projects/p-race/members')).body).toEqual({ users: [{ userId: 'olga', role: 'project-admin' }], teams: [] });
      expect((await auditOf('project:p-race')).map((e) => e.action)).toEqual(['project.register']);
    });

    it('ten identical grants at once: one 201, nine 200, one grant, one audit entry', async () => {
      const responses = await Promise.all(Array.from({ length: 10 }, () => olga.put('/v1/companies/acme/projects/p-race/members/users/hal', { role: 'viewer' })));
      expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      for (const response of responses) expect(response.body).toMatchObject({ userId: 'hal', role: 'viewer' });
      expect((await olga.get('/v1/companies/acme/projects/p-race/members')).body.users).toEqual([
        { userId: 'hal', role: 'viewer' },
        { userId: 'olga', role: 'project-admin' },
      ]);
      expect((await auditOf('grant:p-race/user:hal')).length).toBe(1);
    });
  });

  describe('company isolation (D1)', () => {
    it("an admin of company A gets 404 and no data for company B's projects and grants, and changes nothing there", async () => {
      const before = await bea.get('/v1/companies/beta/projects/bp/members');
      expect(before.body).toEqual({ users: [{ userId: 'bea', role: 'project-admin' }], teams: [] });
      const attempts = [
        await olga.get('/v1/companies/beta/projects/bp/members'),
        await olga.put('/v1/companies/beta/projects/bp', { name: 'Beta project' }),
        await olga.put('/v1/companies/beta/projects/bp', { name: 'Hijacked' }),
        await olga.put('/v1/companies/beta/projects/new-in-beta', { name: 'Planted' }),
        await olga.delete('/v1/companies/beta/projects/bp'),
        await olga.put('/v1/companies/beta/projects/bp/members/users/olga', { role: 'project-admin' }),
        await olga.put('/v1/companies/beta/projects/bp/members/users/bert', { role: 'viewer' }),
        await olga.delete('/v1/companies/beta/projects/bp/members/users/bea'),
        await olga.put('/v1/companies/beta/projects/bp/members/teams/crew', { role: 'viewer' }),
      ];
      for (const response of attempts) expectError(response, 404, 'not_found');
      expect(await bea.get('/v1/companies/beta/projects/bp/members')).toMatchObject({ status: 200, body: before.body });
      expect(await db.selectFrom('projects').select(['id', 'name']).where('company_id', '=', 'beta').execute()).toEqual([{ id: 'bp', name: 'Beta project' }]);
    });

    it('a project id used in two companies stays two projects', async () => {
      const same = await bea.put('/v1/companies/beta/projects/p1', { name: 'Beta p1' });
      expect(same.status).toBe(201);
      expect((await olga.get('/v1/companies/acme/projects/p1/members')).body.users).toEqual([{ userId: 'olga', role: 'project-admin' }]);
      const betaCheck = await api(app.url, 'POST', '/v1/check', { company: 'beta', principal: { id: 'olga' }, action: 'view', resource: scenario('p1') });
      expect(betaCheck.body.allowed).toBe(false);
    });
  });
});
