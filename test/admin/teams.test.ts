import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/schema.js';
import { addMember, adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

describe.skipIf(!servicesUp)('admin API: teams (D1, D17, D19, D22)', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let db: Kysely<Database>;
  let olga: AdminClient; // owner and admin of acme
  let bea: AdminClient; // owner and admin of beta
  let mia: AdminClient; // manager of acme
  let cole: AdminClient; // collaborator of acme

  const as = (userId: string) => adminClient(app.url, userId);
  const version = async (company: string) =>
    String((await db.selectFrom('policy_versions').select('version').where('company_id', '=', company).executeTakeFirstOrThrow()).version);
  const auditOf = (company: string, target: string) =>
    db.selectFrom('audit_log').select(['actor', 'action', 'target', 'before', 'after', 'version']).where('company_id', '=', company).where('target', '=', target).orderBy('id').execute();

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
  const editScenario = (user: string, projectId: string, minVersion?: string) =>
    check(user, 'edit', { type: 'Scenario', id: 's1', attributes: { projectId } }, minVersion);

  async function newTeam(id: string, members: string[] = []) {
    expect((await olga.post('/v1/companies/acme/teams', { id, name: id })).status).toBe(201);
    let last = '';
    for (const user of members) {
      const added = await olga.put(`/v1/companies/acme/teams/${id}/members/${user}`);
      expect(added.status, JSON.stringify(added.body)).toBe(200);
      last = added.body.version;
    }
    return last;
  }

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    db = app.app.store.db;
    olga = as('olga');
    bea = as('bea');
    mia = as('mia');
    cole = as('cole');
    await createCompany(olga, 'acme');
    await createCompany(bea, 'beta');
    for (const [user, role] of [['mia', 'manager'], ['cole', 'collaborator'], ['ann', 'collaborator'], ['ben', 'collaborator'], ['cat', 'collaborator'], ['dan', 'collaborator'], ['eve', 'collaborator']] as const) {
      await addMember(db, 'acme', user, role);
    }
    await addMember(db, 'acme', 'ivy', 'collaborator', { status: 'invited' });
    await addMember(db, 'beta', 'bert', 'collaborator');
    const p1 = await olga.put('/v1/companies/acme/projects/p1', { name: 'Project one' });
    expect(p1.status, JSON.stringify(p1.body)).toBe(201);
    const bp = await bea.put('/v1/companies/beta/projects/bp', { name: 'Beta project' });
    expect(bp.status, JSON.stringify(bp.body)).toBe(201);
    expect((await bea.post('/v1/companies/beta/teams', { id: 'design', name: 'Beta design' })).status).toBe(201);
    expect((await bea.put('/v1/companies/beta/teams/design/members/bert')).status).toBe(200);
  });
  afterAll(() => env?.close());

  describe('create, read, rename', () => {
    it('creates a team with the given id: 201, no members, and the version unchanged (an empty team decides nothing)', async () => {
      const before = await version('acme');
      const created = await olga.post('/v1/companies/acme/teams', { id: 'design', name: 'Design' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ id: 'design', name: 'Design', members: [], version: before });
      expect(await version('acme')).toBe(before);
      expect(await auditOf('acme', 'team:design')).toEqual([
        { actor: 'olga', action: 'team.create', target: 'team:design', before: null, after: { id: 'design', name: 'Design', members: [] }, version: before },
      ]);
    });

    it('generates an id when none is given', async () => {
      const created = await olga.post('/v1/companies/acme/teams', { name: 'Unnamed' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ id: expect.stringMatching(/^t-[0-9a-f]{12}$/), name: 'Unnamed', members: [], version: expect.stringMatching(/^\d+$/) });
      const read = await olga.get(`/v1/companies/acme/teams/${created.body.id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual({ id: created.body.id, name: 'Unnamed', members: [] });
    });

    it('an id already used in the company is 409 conflict; the same id in another company is fine', async () => {
      await newTeam('dup');
      const again = await olga.post('/v1/companies/acme/teams', { id: 'dup', name: 'Again' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('conflict');
      expect((await olga.get('/v1/companies/acme/teams/dup')).body.name).toBe('dup');
      expect((await bea.post('/v1/companies/beta/teams', { id: 'dup', name: 'Beta dup' })).status).toBe(201);
    });

    it('bad bodies are 400 invalid_request naming the path', async () => {
      const cases: Array<[unknown, string]> = [
        [{ name: 'x', colour: 'red' }, 'colour'],
        [{ name: '' }, 'name'],
        [{ name: '   ' }, 'name'],
        [{}, 'name'],
        [{ id: 'a b', name: 'x' }, 'id'],
        [{ id: 'x'.repeat(129), name: 'x' }, 'id'],
      ];
      for (const [body, path] of cases) {
        const response = await olga.post('/v1/companies/acme/teams', body);
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(response.body.error.code).toBe('invalid_request');
        expect(response.body.error.details.path).toBe(path);
      }
      const patch = await olga.patch('/v1/companies/acme/teams/design', { name: 'x', id: 'y' });
      expect(patch.status).toBe(400);
      expect(patch.body.error.code).toBe('invalid_request');
      const put = await olga.put('/v1/companies/acme/teams/design/members/ann', { role: 'lead' });
      expect(put.status).toBe(400);
      expect(put.body.error.code).toBe('invalid_request');
    });

    it('needs a bearer token: 401 unauthenticated', async () => {
      const response = await api(app.url, 'POST', '/v1/companies/acme/teams', { id: 'anon', name: 'Anon' });
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe('unauthenticated');
      expect((await api(app.url, 'GET', '/v1/companies/acme/teams')).status).toBe(401);
    });

    it('a manager views teams but cannot create, rename or delete them (403); a collaborator cannot even view them', async () => {
      const list = await mia.get('/v1/companies/acme/teams');
      expect(list.status).toBe(200);
      expect(list.body.teams.map((t: { id: string }) => t.id)).toContain('design');
      for (const response of [
        await mia.post('/v1/companies/acme/teams', { id: 'mine', name: 'Mine' }),
        await mia.patch('/v1/companies/acme/teams/design', { name: 'Renamed' }),
        await mia.delete('/v1/companies/acme/teams/design'),
        await mia.put('/v1/companies/acme/teams/design/members/mia'),
        await cole.get('/v1/companies/acme/teams'),
        await cole.get('/v1/companies/acme/teams/design'),
        await cole.post('/v1/companies/acme/teams', { id: 'mine', name: 'Mine' }),
      ]) {
        expect(response.status).toBe(403);
        expect(response.body.error.code).toBe('forbidden');
      }
      expect((await olga.get('/v1/companies/acme/teams/mine')).status).toBe(404);
      expect((await olga.get('/v1/companies/acme/teams/design')).body.name).toBe('Design');
    });

    it('lists teams by id with their members', async () => {
      await newTeam('list-b', ['ben', 'ann']);
      const list = await olga.get('/v1/companies/acme/teams');
      expect(list.status).toBe(200);
      const ids = list.body.teams.map((t: { id: string }) => t.id);
      expect(ids).toEqual([...ids].sort());
      expect(list.body.teams.find((t: { id: string }) => t.id === 'list-b')).toEqual({ id: 'list-b', name: 'list-b', members: ['ann', 'ben'] });
      expect(ids).not.toContain('nope');
    });

    it('renames a team: 200 with the version unchanged, audited with before and after; unknown team 404', async () => {
      await newTeam('rn');
      const before = await version('acme');
      const renamed = await olga.patch('/v1/companies/acme/teams/rn', { name: 'Renamed' });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toEqual({ id: 'rn', name: 'Renamed', members: [], version: before });
      expect(await version('acme')).toBe(before);
      expect((await auditOf('acme', 'team:rn')).map((e) => [e.action, e.before, e.after])).toEqual([
        ['team.create', null, { id: 'rn', name: 'rn', members: [] }],
        ['team.rename', { name: 'rn' }, { name: 'Renamed' }],
      ]);
      const missing = await olga.patch('/v1/companies/acme/teams/nope', { name: 'x' });
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('not_found');
      const get = await olga.get('/v1/companies/acme/teams/nope');
      expect(get.status).toBe(404);
      expect(get.body.error.code).toBe('not_found');
    });
  });

  describe('members of a team', () => {
    it('adds a member: 200 with the team and a new version; a repeat changes nothing and keeps the version', async () => {
      await newTeam('adders');
      const before = await version('acme');
      const added = await olga.put('/v1/companies/acme/teams/adders/members/cat');
      expect(added.status).toBe(200);
      expect(added.body).toEqual({ id: 'adders', name: 'adders', members: ['cat'], version: String(BigInt(before) + 1n) });
      const again = await olga.put('/v1/companies/acme/teams/adders/members/cat');
      expect(again.status).toBe(200);
      expect(again.body).toEqual(added.body);
      expect(await version('acme')).toBe(added.body.version);
      expect(await auditOf('acme', 'team:adders/user:cat')).toEqual([
        { actor: 'olga', action: 'team.member.add', target: 'team:adders/user:cat', before: null, after: { teamId: 'adders', userId: 'cat' }, version: added.body.version },
      ]);
    });

    it('an invited member may be put in a team (the team grants nothing until they are active, D6)', async () => {
      await newTeam('pending');
      const added = await olga.put('/v1/companies/acme/teams/pending/members/ivy');
      expect(added.status).toBe(200);
      expect(added.body.members).toEqual(['ivy']);
    });

    it('a user without a membership, an unknown team: 404 not_found', async () => {
      await newTeam('strict');
      for (const path of ['/v1/companies/acme/teams/strict/members/nobody', '/v1/companies/acme/teams/nope/members/ann']) {
        const response = await olga.put(path);
        expect(response.status, path).toBe(404);
        expect(response.body.error.code).toBe('not_found');
      }
      expect((await olga.get('/v1/companies/acme/teams/strict')).body.members).toEqual([]);
    });

    it('D1: a user of company B cannot be added to a team of company A (404), even with the same team id', async () => {
      await newTeam('cross');
      const response = await olga.put('/v1/companies/acme/teams/cross/members/bert');
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('not_found');
      const design = await olga.put('/v1/companies/acme/teams/design/members/bert');
      expect(design.status).toBe(404);
      expect(design.body.error.code).toBe('not_found');
      const rows = await db.selectFrom('team_members').select(['company_id', 'team_id']).where('user_id', '=', 'bert').execute();
      expect(rows).toEqual([{ company_id: 'beta', team_id: 'design' }]);
    });

    it('removing a member who is not in the team is 404 not_found', async () => {
      await newTeam('rm404');
      const response = await olga.delete('/v1/companies/acme/teams/rm404/members/ann');
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('not_found');
    });
  });

  describe('a team grant reaches its members and stops at once (D17, D19)', () => {
    async function grantTeam(team: string, role: string) {
      const granted = await olga.put(`/v1/companies/acme/projects/p1/members/teams/${team}`, { role });
      expect(granted.status, JSON.stringify(granted.body)).toBe(201);
      return granted.body.version as string;
    }

    it('reaches members; stops for a member removed from the team', async () => {
      await newTeam('reach', ['ann', 'ben']);
      const v = await grantTeam('reach', 'contributor');
      const ann = await editScenario('ann', 'p1', v);
      expect(ann.allowed).toBe(true);
      expect(ann.reason).toBe('role contributor via team reach on project p1 allows edit Scenario');
      expect(ann.version).toBe(v);
      expect((await editScenario('ben', 'p1', v)).allowed).toBe(true);
      expect((await editScenario('cat', 'p1', v)).allowed).toBe(false); // not in the team
      expect((await editScenario('ann', 'p2', v)).allowed).toBe(false); // another project

      const removed = await olga.delete('/v1/companies/acme/teams/reach/members/ann');
      expect(removed.status).toBe(200);
      expect(removed.body).toEqual({ version: String(BigInt(v) + 1n) });
      expect((await editScenario('ann', 'p1', removed.body.version)).allowed).toBe(false);
      expect((await editScenario('ann', 'p1')).allowed).toBe(false); // the instance that took the write is current at once
      expect((await editScenario('ben', 'p1', removed.body.version)).allowed).toBe(true);
      expect(await auditOf('acme', 'team:reach/user:ann')).toMatchObject([
        { action: 'team.member.add', before: null, after: { teamId: 'reach', userId: 'ann' } },
        { action: 'team.member.remove', before: { teamId: 'reach', userId: 'ann' }, after: null, version: removed.body.version },
      ]);
    });

    it('reaches a member added after the grant', async () => {
      await newTeam('late');
      const v = await grantTeam('late', 'viewer');
      expect((await check('dan', 'view', { type: 'Scenario', attributes: { projectId: 'p1' } }, v)).allowed).toBe(false);
      const added = await olga.put('/v1/companies/acme/teams/late/members/dan');
      expect((await check('dan', 'view', { type: 'Scenario', attributes: { projectId: 'p1' } }, added.body.version)).allowed).toBe(true);
    });

    it('deleting the team: 200 {version}, its members lose the grant at once, the grant is gone, audited with members and grants', async () => {
      await newTeam('doomed', ['cat']);
      const v = await grantTeam('doomed', 'contributor');
      expect((await editScenario('cat', 'p1', v)).allowed).toBe(true);
      const deleted = await olga.delete('/v1/companies/acme/teams/doomed');
      expect(deleted.status).toBe(200);
      expect(deleted.body).toEqual({ version: String(BigInt(v) + 1n) });
      expect((await editScenario('cat', 'p1', deleted.body.version)).allowed).toBe(false);
      expect((await editScenario('cat', 'p1')).allowed).toBe(false);
      const members = await olga.get('/v1/companies/acme/projects/p1/members');
      expect(members.body.teams.map((t: { teamId: string }) => t.teamId)).not.toContain('doomed');
      const gone = await olga.get('/v1/companies/acme/teams/doomed');
      expect(gone.status).toBe(404);
      expect(gone.body.error.code).toBe('not_found');
      const again = await olga.delete('/v1/companies/acme/teams/doomed');
      expect(again.status).toBe(404);
      expect(again.body.error.code).toBe('not_found');
      const audit = await auditOf('acme', 'team:doomed');
      expect(audit.at(-1)).toEqual({
        actor: 'olga',
        action: 'team.delete',
        target: 'team:doomed',
        before: { id: 'doomed', name: 'doomed', members: ['cat'], grants: [{ projectId: 'p1', role: 'contributor' }] },
        after: null,
        version: deleted.body.version,
      });

      // A new team with the same id starts without the old grants.
      await newTeam('doomed', ['cat']);
      expect((await editScenario('cat', 'p1', await version('acme'))).allowed).toBe(false);
    });

    it('revoking the team grant, or deleting the project, stops it for every member', async () => {
      await newTeam('revoked', ['eve']);
      const v = await grantTeam('revoked', 'contributor');
      expect((await editScenario('eve', 'p1', v)).allowed).toBe(true);
      const revoked = await olga.delete('/v1/companies/acme/projects/p1/members/teams/revoked');
      expect(revoked.status).toBe(200);
      expect((await editScenario('eve', 'p1', revoked.body.version)).allowed).toBe(false);

      const project = await olga.put('/v1/companies/acme/projects/p-team', { name: 'Team project' });
      expect(project.status).toBe(201);
      const granted = await olga.put('/v1/companies/acme/projects/p-team/members/teams/revoked', { role: 'viewer' });
      expect(granted.status).toBe(201);
      const viewScenario = (minVersion: string) => check('eve', 'view', { type: 'Scenario', attributes: { projectId: 'p-team' } }, minVersion);
      expect((await viewScenario(granted.body.version)).allowed).toBe(true);
      const deleted = await olga.delete('/v1/companies/acme/projects/p-team');
      expect(deleted.status).toBe(200);
      expect((await viewScenario(deleted.body.version)).allowed).toBe(false);
    });
  });

  describe('company isolation (D1)', () => {
    it("an admin of company A gets 404 and no data for company B's teams, and changes nothing there", async () => {
      const before = await bea.get('/v1/companies/beta/teams/design');
      expect(before.status).toBe(200);
      const attempts = [
        await olga.get('/v1/companies/beta/teams'),
        await olga.get('/v1/companies/beta/teams/design'),
        await olga.post('/v1/companies/beta/teams', { id: 'intruders', name: 'Intruders' }),
        await olga.patch('/v1/companies/beta/teams/design', { name: 'Hacked' }),
        await olga.delete('/v1/companies/beta/teams/design'),
        await olga.put('/v1/companies/beta/teams/design/members/olga'),
        await olga.delete('/v1/companies/beta/teams/design/members/bert'),
      ];
      for (const response of attempts) {
        expect(response.status).toBe(404);
        expect(Object.keys(response.body)).toEqual(['error']);
        expect(response.body.error.code).toBe('not_found');
      }
      expect(await bea.get('/v1/companies/beta/teams/design')).toMatchObject({ status: 200, body: before.body });
      expect((await bea.get('/v1/companies/beta/teams/intruders')).status).toBe(404);
    });

    it('an unknown company is 404 not_found', async () => {
      const response = await olga.get('/v1/companies/nowhere/teams');
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('not_found');
    });
  });
});
