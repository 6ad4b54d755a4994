import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/schema.js';
import { bumpPolicyVersion } from '../../src/store/versions.js';
import { parseIfMatch, preconditionHolds, rolesEtag } from '../../src/admin/roles/etag.js';
import { addMember, adminClient, companySequence } from '../support/admin.js';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

const defaultCompanyRoles = {
  admin: [
    { action: 'view', subject: 'CompanySettings' },
    { action: 'edit', subject: 'CompanySettings' },
    { action: 'view', subject: 'Member' },
    { action: 'invite', subject: 'Member' },
    { action: 'create', subject: 'Member' },
    { action: 'edit', subject: 'Member' },
    { action: 'remove', subject: 'Member' },
    { action: 'view', subject: 'Team' },
    { action: 'create', subject: 'Team' },
    { action: 'edit', subject: 'Team' },
    { action: 'delete', subject: 'Team' },
    { action: 'view', subject: 'Role' },
    { action: 'create', subject: 'Role' },
    { action: 'edit', subject: 'Role' },
    { action: 'delete', subject: 'Role' },
    { action: 'manage', subject: 'Project' },
    { action: 'view', subject: 'ProjectMember' },
    { action: 'invite', subject: 'ProjectMember' },
    { action: 'edit', subject: 'ProjectMember' },
    { action: 'remove', subject: 'ProjectMember' },
  ],
  manager: [
    { action: 'view', subject: 'CompanySettings' },
    { action: 'edit', subject: 'CompanySettings', fields: ['branding'] },
    { action: 'view', subject: 'Member' },
    { action: 'invite', subject: 'Member' },
    { action: 'view', subject: 'Team' },
    { action: 'view', subject: 'Role' },
    { action: 'create', subject: 'Project' },
    { action: 'view', subject: 'Project' },
  ],
  editor: [
    { action: 'view', subject: 'CompanySettings' },
    { action: 'view', subject: 'CompanySettings', fields: ['subscription'], inverted: true },
    { action: 'view', subject: 'Project' },
  ],
  collaborator: [],
};

const viewer = { key: 'viewer', name: 'Viewer', permissions: [{ action: 'view', subject: 'Scenario' }, { action: 'view', subject: 'ProjectInformation' }] };
const contributor = {
  key: 'contributor',
  name: 'Contributor',
  permissions: [
    { action: 'create', subject: 'Scenario' },
    { action: 'edit', subject: 'Scenario' },
    { action: 'view', subject: 'Scenario' },
    { action: 'view', subject: 'ProjectInformation' },
  ],
};
const projectAdminPermissions = [
  { action: 'manage', subject: 'Project' },
  { action: 'view', subject: 'ProjectInformation' },
  { action: 'edit', subject: 'ProjectInformation' },
  { action: 'create', subject: 'Scenario' },
  { action: 'view', subject: 'Scenario' },
  { action: 'edit', subject: 'Scenario' },
  { action: 'delete', subject: 'Scenario' },
  { action: 'view', subject: 'ProjectMember' },
  { action: 'invite', subject: 'ProjectMember' },
  { action: 'edit', subject: 'ProjectMember' },
  { action: 'remove', subject: 'ProjectMember' },
];

const STRONG_ETAG = /^"[A-Za-z0-9_-]{43}"$/;
const failure = (status: number, code: string) => ({ status, body: { error: expect.objectContaining({ code }) } });

/** A project and a grant written as the projects API would, bumping the version so caches notice. */
async function grant(db: Kysely<Database>, company: string, project: string, role: string, grantee: { user?: string; team?: string }): Promise<string> {
  return db.transaction().execute(async (trx) => {
    const version = (await bumpPolicyVersion(trx, company))!;
    await trx
      .insertInto('projects')
      .values({ company_id: company, id: project, name: project })
      .onConflict((oc) => oc.columns(['company_id', 'id']).doNothing())
      .execute();
    await trx
      .insertInto('project_grants')
      .values({ company_id: company, project_id: project, role_key: role, user_id: grantee.user ?? null, team_id: grantee.team ?? null })
      .execute();
    return version;
  });
}

/** Removes every grant of a company, as the projects API would, with a version bump. */
async function removeGrants(db: Kysely<Database>, company: string): Promise<string> {
  return db.transaction().execute(async (trx) => {
    const version = (await bumpPolicyVersion(trx, company))!;
    await trx.deleteFrom('project_grants').where('company_id', '=', company).execute();
    return version;
  });
}

describe.skipIf(!servicesUp)('roles API', () => {
  let env: TestEnvironment;
  let one: TestApp;
  let two: TestApp;
  let db: Kysely<Database>;

  const company = companySequence(() => one.url);

  beforeAll(async () => {
    env = await createTestEnvironment();
    one = await env.start();
    two = await env.start();
    db = one.app.store.db;
  });
  afterAll(() => env?.close());

  describe('GET /roles', () => {
    it('lists the four company roles (admin first, not editable) and the project roles by key, with a strong ETag', async () => {
      const { id, owner } = await company('list');
      const response = await owner.get(`/v1/companies/${id}/roles`);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        company: [
          { key: 'admin', permissions: defaultCompanyRoles.admin, editable: false },
          { key: 'manager', permissions: defaultCompanyRoles.manager, editable: true },
          { key: 'editor', permissions: defaultCompanyRoles.editor, editable: true },
          { key: 'collaborator', permissions: [], editable: true },
        ],
        project: [contributor, { key: 'project-admin', name: 'Project admin', permissions: projectAdminPermissions }, viewer],
      });
      expect(response.headers.get('etag')).toMatch(STRONG_ETAG);
      // The same content gives the same ETag, on any instance.
      const again = await adminClient(two.url, owner.userId).get(`/v1/companies/${id}/roles`);
      expect(again.headers.get('etag')).toBe(response.headers.get('etag'));
    });

    it('needs view Role: a collaborator gets 403, a manager 200', async () => {
      const { id } = await company('view');
      await addMember(db, id, `collab-${id}`, 'collaborator');
      await addMember(db, id, `manager-${id}`, 'manager');
      expect(await adminClient(one.url, `collab-${id}`).get(`/v1/companies/${id}/roles`)).toMatchObject(failure(403, 'forbidden'));
      expect((await adminClient(one.url, `manager-${id}`).get(`/v1/companies/${id}/roles`)).status).toBe(200);
    });

    it('needs a token', async () => {
      const { id } = await company('anon');
      expect(await api(one.url, 'GET', `/v1/companies/${id}/roles`)).toMatchObject(failure(401, 'unauthenticated'));
    });
  });

  describe('PUT /roles/company/{key}', () => {
    it('replaces the permissions, bumps the version and answers with the new ETag that GET then shows', async () => {
      const { id, owner, version } = await company('put');
      const before = await owner.get(`/v1/companies/${id}/roles`);
      const permissions = [{ action: 'view', subject: 'Member' }, { action: 'edit', subject: 'CompanySettings', fields: ['branding', 'support'] }];
      const response = await owner.put(`/v1/companies/${id}/roles/company/collaborator`, { permissions });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ key: 'collaborator', permissions, editable: true, version: String(BigInt(version) + 1n) });
      const etag = response.headers.get('etag');
      expect(etag).toMatch(STRONG_ETAG);
      expect(etag).not.toBe(before.headers.get('etag'));
      const after = await owner.get(`/v1/companies/${id}/roles`);
      expect(after.headers.get('etag')).toBe(etag);
      expect(after.body.company[3]).toEqual({ key: 'collaborator', permissions, editable: true });
    });

    it('refuses the admin role with 409 role_immutable and leaves it as it was', async () => {
      const { id, owner } = await company('admin');
      const response = await owner.put(`/v1/companies/${id}/roles/company/admin`, { permissions: [] });
      expect(response).toMatchObject(failure(409, 'role_immutable'));
      expect((await owner.get(`/v1/companies/${id}/roles`)).body.company[0].permissions).toEqual(defaultCompanyRoles.admin);
    });

    it('answers 404 not_found for a key that is not a company role (there are no new company roles)', async () => {
      const { id, owner } = await company('unknown');
      expect(await owner.put(`/v1/companies/${id}/roles/company/owner`, { permissions: [] })).toMatchObject(failure(404, 'not_found'));
    });

    const invalid: Array<[string, unknown, string]> = [
      ['a subject outside the catalog', [{ action: 'view', subject: 'Member' }, { action: 'view', subject: 'Team' }, { action: 'view', subject: 'Invoice' }], 'permissions.2'],
      ['a subject a company role may not name', [{ action: 'view', subject: 'Member' }, { action: 'use', subject: 'Application' }], 'permissions.1'],
      ['an action the subject does not have', [{ action: 'fly', subject: 'Member' }], 'permissions.0'],
      ['a field the subject does not have', [{ action: 'edit', subject: 'CompanySettings', fields: ['logo'] }], 'permissions.0'],
      ['an unknown property in a permission', [{ action: 'view', subject: 'Member', when: 'always' }], 'permissions.0.when'],
    ];
    for (const [name, permissions, path] of invalid) {
      it(`refuses ${name} with 400 invalid_request naming ${path}`, async () => {
        const { id, owner } = await company('bad');
        const response = await owner.put(`/v1/companies/${id}/roles/company/editor`, { permissions });
        expect(response).toMatchObject(failure(400, 'invalid_request'));
        expect(response.body.error.details.path).toBe(path);
      });
    }

    it('refuses unknown body fields with 400 invalid_request', async () => {
      const { id, owner } = await company('extra');
      const response = await owner.put(`/v1/companies/${id}/roles/company/editor`, { permissions: [], name: 'x' });
      expect(response).toMatchObject(failure(400, 'invalid_request'));
      expect(response.body.error.details.path).toBe('name');
    });

    it('needs edit Role: a default manager gets 403 forbidden', async () => {
      const { id } = await company('noedit');
      await addMember(db, id, `manager-${id}`, 'manager');
      const response = await adminClient(one.url, `manager-${id}`).put(`/v1/companies/${id}/roles/company/editor`, { permissions: [] });
      expect(response).toMatchObject(failure(403, 'forbidden'));
    });

    it('no escalation: a manager given edit Role cannot hand out edit CompanySettings but can hand out view Member, which they hold', async () => {
      const { id, owner } = await company('escalate');
      const managerPermissions = [...defaultCompanyRoles.manager, { action: 'edit', subject: 'Role' }];
      expect((await owner.put(`/v1/companies/${id}/roles/company/manager`, { permissions: managerPermissions })).status).toBe(200);
      await addMember(db, id, `manager-${id}`, 'manager');
      const manager = adminClient(one.url, `manager-${id}`);

      const refused = await manager.put(`/v1/companies/${id}/roles/company/editor`, {
        permissions: [...defaultCompanyRoles.editor, { action: 'edit', subject: 'CompanySettings' }],
      });
      expect(refused).toMatchObject(failure(403, 'forbidden'));
      // Decisions, not permissions: the manager edits branding already, so every other section is what they lack.
      expect(refused.body.error.details).toEqual({
        lacking: [{ action: 'edit', subject: 'CompanySettings', fields: ['general', 'subscription', 'payments', 'domains', 'notifications', 'support'] }],
      });
      // Nor into their own role.
      const own = await manager.put(`/v1/companies/${id}/roles/company/manager`, { permissions: [...managerPermissions, { action: 'remove', subject: 'Member' }] });
      expect(own).toMatchObject(failure(403, 'forbidden'));
      expect(own.body.error.details).toEqual({ lacking: [{ action: 'remove', subject: 'Member' }] });

      const allowed = await manager.put(`/v1/companies/${id}/roles/company/editor`, {
        permissions: [...defaultCompanyRoles.editor, { action: 'view', subject: 'Member' }],
      });
      expect(allowed.status).toBe(200);
      expect(allowed.body.permissions).toEqual([...defaultCompanyRoles.editor, { action: 'view', subject: 'Member' }]);
    });
  });

  describe('project roles', () => {
    it('create, rename and edit, delete: each answers with the object and version, and GET follows', async () => {
      const { id, owner, version } = await company('crud');
      const reviewer = { key: 'reviewer', name: 'Reviewer', permissions: [{ action: 'view', subject: 'Scenario' }] };
      const created = await owner.post(`/v1/companies/${id}/roles/project`, reviewer);
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ ...reviewer, version: String(BigInt(version) + 1n) });
      expect(created.headers.get('etag')).toMatch(STRONG_ETAG);

      const edited = { name: 'Senior reviewer', permissions: [{ action: 'view', subject: 'Scenario' }, { action: 'edit', subject: 'ProjectInformation' }] };
      const updated = await owner.put(`/v1/companies/${id}/roles/project/reviewer`, edited);
      expect(updated.status).toBe(200);
      expect(updated.body).toEqual({ key: 'reviewer', ...edited, version: String(BigInt(version) + 2n) });
      const listed = await owner.get(`/v1/companies/${id}/roles`);
      expect(listed.body.project.map((r: { key: string }) => r.key)).toEqual(['contributor', 'project-admin', 'reviewer', 'viewer']);
      expect(listed.body.project[2]).toEqual({ key: 'reviewer', ...edited });
      expect(listed.headers.get('etag')).toBe(updated.headers.get('etag'));

      const deleted = await owner.delete(`/v1/companies/${id}/roles/project/reviewer`);
      expect(deleted.status).toBe(200);
      expect(deleted.body).toEqual({ version: String(BigInt(version) + 3n) });
      const after = await owner.get(`/v1/companies/${id}/roles`);
      expect(after.body.project.map((r: { key: string }) => r.key)).toEqual(['contributor', 'project-admin', 'viewer']);
      expect(after.headers.get('etag')).toBe(deleted.headers.get('etag'));
    });

    it('refuses an existing key with 409 conflict', async () => {
      const { id, owner } = await company('dup');
      const response = await owner.post(`/v1/companies/${id}/roles/project`, { key: 'viewer', name: 'Another viewer', permissions: [] });
      expect(response).toMatchObject(failure(409, 'conflict'));
      expect(response.body.error.details).toEqual({ key: 'viewer' });
    });

    it('answers 404 not_found for an unknown key on PUT and DELETE', async () => {
      const { id, owner } = await company('missing');
      expect(await owner.put(`/v1/companies/${id}/roles/project/ghost`, { name: 'Ghost', permissions: [] })).toMatchObject(failure(404, 'not_found'));
      expect(await owner.delete(`/v1/companies/${id}/roles/project/ghost`)).toMatchObject(failure(404, 'not_found'));
    });

    it('refuses permissions outside project roles with 400 invalid_request naming the path', async () => {
      const { id, owner } = await company('badproject');
      const companyWide = await owner.post(`/v1/companies/${id}/roles/project`, {
        key: 'x',
        name: 'X',
        permissions: [{ action: 'view', subject: 'Scenario' }, { action: 'view', subject: 'Member' }],
      });
      expect(companyWide).toMatchObject(failure(400, 'invalid_request'));
      expect(companyWide.body.error.details.path).toBe('permissions.1');
      const projectCreate = await owner.put(`/v1/companies/${id}/roles/project/viewer`, { name: 'Viewer', permissions: [{ action: 'create', subject: 'Project' }] });
      expect(projectCreate).toMatchObject(failure(400, 'invalid_request'));
      expect(projectCreate.body.error.details.path).toBe('permissions.0');
      const badKey = await owner.post(`/v1/companies/${id}/roles/project`, { key: 'Not A Key', name: 'X', permissions: [] });
      expect(badKey).toMatchObject(failure(400, 'invalid_request'));
      expect(badKey.body.error.details.path).toBe('key');
    });

    it('needs create, edit and delete Role respectively', async () => {
      const { id } = await company('rights');
      await addMember(db, id, `manager-${id}`, 'manager');
      const manager = adminClient(one.url, `manager-${id}`);
      expect(await manager.post(`/v1/companies/${id}/roles/project`, { key: 'x', name: 'X', permissions: [] })).toMatchObject(failure(403, 'forbidden'));
      expect(await manager.put(`/v1/companies/${id}/roles/project/viewer`, { name: 'V', permissions: [] })).toMatchObject(failure(403, 'forbidden'));
      expect(await manager.delete(`/v1/companies/${id}/roles/project/viewer`)).toMatchObject(failure(403, 'forbidden'));
    });

    it('project-admin can be edited but not deleted (409 conflict: project creators receive it)', async () => {
      const { id, owner } = await company('padmin');
      const refused = await owner.delete(`/v1/companies/${id}/roles/project/project-admin`);
      expect(refused).toMatchObject(failure(409, 'conflict'));
      expect(refused.body.error.details).toEqual({ key: 'project-admin' });
      const edited = await owner.put(`/v1/companies/${id}/roles/project/project-admin`, { name: 'Lead', permissions: [{ action: 'manage', subject: 'Project' }] });
      expect(edited.status).toBe(200);
      expect(edited.body).toMatchObject({ key: 'project-admin', name: 'Lead', permissions: [{ action: 'manage', subject: 'Project' }] });
    });

    it('refuses to delete a role still granted, with 409 conflict and how many grants; deletes it once the grants are gone', async () => {
      const { id, owner } = await company('granted');
      await addMember(db, id, `u-${id}`, 'collaborator');
      await db.insertInto('teams').values({ company_id: id, id: 'ops', name: 'Ops' }).execute();
      await owner.post(`/v1/companies/${id}/roles/project`, { key: 'auditor', name: 'Auditor', permissions: [{ action: 'view', subject: 'Scenario' }] });
      await grant(db, id, 'p1', 'auditor', { user: `u-${id}` });
      await grant(db, id, 'p1', 'auditor', { team: 'ops' });
      await grant(db, id, 'p2', 'auditor', { team: 'ops' });

      const refused = await owner.delete(`/v1/companies/${id}/roles/project/auditor`);
      expect(refused).toMatchObject(failure(409, 'conflict'));
      expect(refused.body.error.details).toEqual({ key: 'auditor', grants: 3, projects: 2 });
      expect((await owner.get(`/v1/companies/${id}/roles`)).body.project.map((r: { key: string }) => r.key)).toContain('auditor');

      await removeGrants(db, id);
      expect((await owner.delete(`/v1/companies/${id}/roles/project/auditor`)).status).toBe(200);
    });
  });

  describe('If-Match', () => {
    it('a stale ETag gets 412 precondition_failed and changes nothing; the fresh one succeeds; * always does', async () => {
      const { id, owner } = await company('ifmatch');
      const first = await owner.get(`/v1/companies/${id}/roles`);
      const stale = first.headers.get('etag')!;
      const changed = await owner.put(`/v1/companies/${id}/roles/company/editor`, { permissions: [] }, { 'if-match': stale });
      expect(changed.status).toBe(200);
      const fresh = changed.headers.get('etag')!;

      const refused = await owner.put(`/v1/companies/${id}/roles/company/editor`, { permissions: [{ action: 'view', subject: 'Team' }] }, { 'if-match': stale });
      expect(refused).toMatchObject(failure(412, 'precondition_failed'));
      const afterRefusal = await owner.get(`/v1/companies/${id}/roles`);
      expect(afterRefusal.headers.get('etag')).toBe(fresh);
      expect(afterRefusal.body.company[2].permissions).toEqual([]);
      // Every kind of role write checks it.
      expect(await owner.post(`/v1/companies/${id}/roles/project`, { key: 'x', name: 'X', permissions: [] }, { 'if-match': stale })).toMatchObject(
        failure(412, 'precondition_failed'),
      );
      expect(await owner.put(`/v1/companies/${id}/roles/project/viewer`, { name: 'V', permissions: [] }, { 'if-match': stale })).toMatchObject(
        failure(412, 'precondition_failed'),
      );
      expect(await owner.delete(`/v1/companies/${id}/roles/project/contributor`, { 'if-match': stale })).toMatchObject(failure(412, 'precondition_failed'));
      // Strong comparison: the fresh tag marked weak does not match.
      expect(await owner.put(`/v1/companies/${id}/roles/company/editor`, { permissions: [] }, { 'if-match': `W/${fresh}` })).toMatchObject(
        failure(412, 'precondition_failed'),
      );

      const accepted = await owner.put(`/v1/companies/${id}/roles/company/editor`, { permissions: [{ action: 'view', subject: 'Team' }] }, { 'if-match': `"other", ${fresh}` });
      expect(accepted.status).toBe(200);
      const star = await owner.put(`/v1/companies/${id}/roles/company/editor`, { permissions: [] }, { 'if-match': '*' });
      expect(star.status).toBe(200);
    });

    it('a malformed If-Match is a 400 invalid_request', async () => {
      const { id, owner } = await company('badmatch');
      const response = await owner.put(`/v1/companies/${id}/roles/company/editor`, { permissions: [] }, { 'if-match': 'no-quotes' });
      expect(response).toMatchObject(failure(400, 'invalid_request'));
      expect(response.body.error.details).toEqual({ path: 'headers.if-match' });
    });

    it('two writers with the same ETag: exactly one wins, the other gets 412', async () => {
      const { id, owner } = await company('race');
      const etag = (await owner.get(`/v1/companies/${id}/roles`)).headers.get('etag')!;
      const other = adminClient(two.url, owner.userId);
      const [a, b] = await Promise.all([
        owner.put(`/v1/companies/${id}/roles/company/manager`, { permissions: [{ action: 'view', subject: 'Team' }] }, { 'if-match': etag }),
        other.put(`/v1/companies/${id}/roles/company/manager`, { permissions: [{ action: 'view', subject: 'Member' }] }, { 'if-match': etag }),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 412]);
      const winner = a.status === 200 ? a : b;
      const loser = a.status === 200 ? b : a;
      expect(loser.body.error.code).toBe('precondition_failed');
      const now = await owner.get(`/v1/companies/${id}/roles`);
      expect(now.body.company[1].permissions).toEqual(winner.body.permissions);
      expect(now.headers.get('etag')).toBe(winner.headers.get('etag'));
    });
  });

  describe('D19: the next check reflects a role change, on any instance (minVersion)', () => {
    const check = (url: string, company: string, user: string, action: string, resource: Record<string, unknown>, minVersion?: string) =>
      api(url, 'POST', '/v1/check', {
        company,
        principal: { id: user },
        action,
        resource,
        ...(minVersion ? { consistency: { minVersion } } : {}),
      });

    it('a company role edit made on one instance is seen by a check on another', async () => {
      const { id, owner } = await company('d19c');
      const user = `collab-${id}`;
      await addMember(db, id, user, 'collaborator');
      // Warm the other instance's caches first.
      expect((await check(two.url, id, user, 'view', { type: 'Member' })).body.allowed).toBe(false);

      const added = await owner.put(`/v1/companies/${id}/roles/company/collaborator`, { permissions: [{ action: 'view', subject: 'Member' }] });
      expect(added.status).toBe(200);
      const seen = await check(two.url, id, user, 'view', { type: 'Member' }, added.body.version);
      expect(seen.status).toBe(200);
      expect(seen.body).toMatchObject({ allowed: true });
      expect(BigInt(seen.body.version)).toBeGreaterThanOrEqual(BigInt(added.body.version));

      const removed = await owner.put(`/v1/companies/${id}/roles/company/collaborator`, { permissions: [] });
      expect((await check(two.url, id, user, 'view', { type: 'Member' }, removed.body.version)).body).toMatchObject({ allowed: false });
    });

    it('a project role edit takes away and gives at once; deleting the role after its grants are gone leaves nothing granted', async () => {
      const { id, owner } = await company('d19p');
      const user = `collab-${id}`;
      await addMember(db, id, user, 'collaborator');
      await owner.post(`/v1/companies/${id}/roles/project`, { key: 'reviewer', name: 'Reviewer', permissions: [{ action: 'view', subject: 'Scenario' }] });
      const granted = await grant(db, id, 'p1', 'reviewer', { user });
      const scenario = { type: 'Scenario', id: 's1', attributes: { projectId: 'p1' } };
      const information = { type: 'ProjectInformation', attributes: { projectId: 'p1' } };
      expect((await check(two.url, id, user, 'view', scenario, granted)).body).toMatchObject({ allowed: true });
      expect((await check(two.url, id, user, 'view', information, granted)).body).toMatchObject({ allowed: false });

      const edited = await owner.put(`/v1/companies/${id}/roles/project/reviewer`, { name: 'Reviewer', permissions: [{ action: 'view', subject: 'ProjectInformation' }] });
      expect(edited.status).toBe(200);
      expect((await check(two.url, id, user, 'view', scenario, edited.body.version)).body).toMatchObject({ allowed: false });
      expect((await check(two.url, id, user, 'view', information, edited.body.version)).body).toMatchObject({ allowed: true });

      await removeGrants(db, id);
      const deleted = await owner.delete(`/v1/companies/${id}/roles/project/reviewer`);
      expect(deleted.status).toBe(200);
      expect((await check(two.url, id, user, 'view', information, deleted.body.version)).body).toMatchObject({ allowed: false });
    });
  });

  describe('D1: an admin of company A can neither read nor change the roles of company B', () => {
    it('answers 404 not_found to every roles call and changes nothing', async () => {
      const a = await company('tenant-a');
      const b = await company('tenant-b');
      const intruder = a.owner; // a valid token, admin and owner of A
      const before = await b.owner.get(`/v1/companies/${b.id}/roles`);
      const base = `/v1/companies/${b.id}/roles`;
      const answers = await Promise.all([
        intruder.get(base),
        intruder.put(`${base}/company/editor`, { permissions: [] }),
        intruder.put(`${base}/company/admin`, { permissions: [] }),
        intruder.post(`${base}/project`, { key: 'x', name: 'X', permissions: [] }),
        intruder.put(`${base}/project/viewer`, { name: 'V', permissions: [] }),
        intruder.delete(`${base}/project/viewer`),
        intruder.put(`${base}/company/editor`, { permissions: [] }, { 'if-match': before.headers.get('etag')! }),
      ]);
      for (const answer of answers) expect(answer).toMatchObject(failure(404, 'not_found'));
      const after = await b.owner.get(`/v1/companies/${b.id}/roles`);
      expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
    });

    it('an inactive member of B is treated as an outsider', async () => {
      const b = await company('tenant-inactive');
      await addMember(db, b.id, `gone-${b.id}`, 'admin', { status: 'inactive' });
      expect(await adminClient(one.url, `gone-${b.id}`).get(`/v1/companies/${b.id}/roles`)).toMatchObject(failure(404, 'not_found'));
    });
  });
});

describe('If-Match parsing and comparison', () => {
  const current = rolesEtag({ company: [], project: [] });

  it('has no condition without the header and matches anything with *', () => {
    expect(preconditionHolds(parseIfMatch(undefined), current)).toBe(true);
    expect(preconditionHolds(parseIfMatch(' * '), current)).toBe(true);
  });

  it('matches the current tag anywhere in a list, strongly only', () => {
    expect(preconditionHolds(parseIfMatch(current), current)).toBe(true);
    expect(preconditionHolds(parseIfMatch(`"a" , ${current}`), current)).toBe(true);
    expect(preconditionHolds(parseIfMatch(['"a"', current]), current)).toBe(true);
    expect(preconditionHolds(parseIfMatch(`W/${current}`), current)).toBe(false);
    expect(preconditionHolds(parseIfMatch('"a", "b"'), current)).toBe(false);
  });

  it('refuses what is not a list of entity tags', () => {
    for (const header of ['', 'abc', '"a", b', '"a"b', '"a', 'W/abc', '*, "a"']) {
      expect(() => parseIfMatch(header), header).toThrow(expect.objectContaining({ code: 'invalid_request', details: { path: 'headers.if-match' } }));
    }
  });

  it('derives the ETag from content only', () => {
    expect(rolesEtag({ company: [], project: [] })).toBe(current);
    expect(rolesEtag({ company: [], project: [{ key: 'x' }] })).not.toBe(current);
  });
});
