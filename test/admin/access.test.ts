import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

// POST /v1/companies/{c}/access/explain: /v1/check's decision about a member, asked with one's
// own token, gated on the caller's rights to see members, roles and the project's members.

const CHECK_TOKEN = 'access-check-token-0123456789';
const explainPath = (company = 'acme') => `/v1/companies/${company}/access/explain`;
const scenario = (projectId: string) => ({ action: 'edit', resource: { type: 'Scenario', id: 's-1', attributes: { projectId } } });

describe.skipIf(!servicesUp)('access explain', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let owner: AdminClient;
  const as = (userId: string, email?: string) => adminClient(app.url, userId, email);

  /** What /v1/check answers (as a service holding the check token), to compare with. */
  async function checkAnswer(body: Record<string, unknown>) {
    const response = await api(app.url, 'POST', '/v1/check', { company: 'acme', ...body }, { authorization: `Bearer ${CHECK_TOKEN}` });
    expect(response.status).toBe(200);
    return response.body;
  }

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start({ CHECK_TOKEN });
    owner = as('olga');
    await createCompany(owner, 'acme');
    await createCompany(as('otto'), 'globex');
    const db = app.app.store.db;
    await addMember(db, 'acme', 'mia', 'manager');
    await addMember(db, 'acme', 'eddie', 'editor');
    await addMember(db, 'acme', 'cole', 'collaborator', { applicationAccess: true });
    await addMember(db, 'acme', 'gus', 'collaborator', { email: 'gus@partner.test' });
    for (const project of ['p1', 'p2']) expect((await owner.put(`/v1/companies/acme/projects/${project}`, { name: project })).status).toBe(201);
    expect((await owner.put('/v1/companies/acme/projects/p1/members/users/mia', { role: 'project-admin' })).status).toBe(201);
    const granted = await owner.put('/v1/companies/acme/projects/p2/members/users/cole', { role: 'contributor' });
    expect(granted.status).toBe(201);
  });
  afterAll(() => env?.close());

  it('answers the admin exactly what /v1/check answers, allow and deny, at the version asked for', async () => {
    const version = (await owner.put('/v1/companies/acme/projects/p1/members/users/cole', { role: 'viewer' })).body.version as string;
    for (const question of [scenario('p2'), scenario('p1'), { action: 'use', resource: { type: 'Application' } }, { action: 'edit', resource: { type: 'CompanySettings' }, field: 'branding' }]) {
      const body = { principal: { id: 'cole' }, ...question, consistency: { minVersion: version } };
      const explained = await owner.post(explainPath(), body);
      expect(explained.status).toBe(200);
      expect(explained.body).toEqual(await checkAnswer(body));
    }
    const allowed = await owner.post(explainPath(), { principal: { id: 'cole' }, ...scenario('p2') });
    expect(allowed.body).toMatchObject({ allowed: true, reason: 'role contributor on project p2 allows edit Scenario' });
  });

  it('about oneself needs no right: a collaborator and a guest ask about themselves', async () => {
    for (const [user, email] of [['cole', undefined], ['gus', 'gus@partner.test']] as const) {
      const body = { principal: { id: user }, ...scenario('p2') };
      const response = await as(user, email).post(explainPath(), body);
      expect(response.status).toBe(200);
      expect(response.body).toEqual(await checkAnswer(body));
    }
  });

  it('a member without view Member, or a guest, asking about another: 403 forbidden', async () => {
    for (const [user, email] of [['cole', undefined], ['gus', 'gus@partner.test']] as const) {
      const response = await as(user, email).post(explainPath(), { principal: { id: 'mia' }, action: 'use', resource: { type: 'Application' } });
      expect(response.status).toBe(403);
      expect(response.body.error).toMatchObject({ code: 'forbidden', details: { action: 'view', subject: 'Member' } });
    }
  });

  it('view Member without view Role: 403 naming Role', async () => {
    const roles = await owner.get('/v1/companies/acme/roles');
    const editor = roles.body.company.find((r: { key: string }) => r.key === 'editor');
    const changed = await owner.put('/v1/companies/acme/roles/company/editor', { permissions: [...editor.permissions, { action: 'view', subject: 'Member' }] });
    expect(changed.status).toBe(200);
    const response = await as('eddie').post(explainPath(), { principal: { id: 'cole' }, action: 'use', resource: { type: 'Application' } });
    expect(response.status).toBe(403);
    expect(response.body.error).toMatchObject({ code: 'forbidden', details: { action: 'view', subject: 'Role' } });
  });

  it("a manager: company questions, and project questions only on projects whose members they may see", async () => {
    const mia = as('mia');
    const company = await mia.post(explainPath(), { principal: { id: 'cole' }, action: 'view', resource: { type: 'CompanySettings' } });
    expect(company).toMatchObject({ status: 200, body: { allowed: false } });
    // project-admin on p1 holds view ProjectMember there.
    const onP1 = await mia.post(explainPath(), { principal: { id: 'cole' }, ...scenario('p1') });
    expect(onP1.status).toBe(200);
    for (const question of [
      scenario('p2'),
      { action: 'view', resource: { type: 'Project', id: 'p2' } },
      { action: 'view', resource: { type: 'ProjectMember', attributes: { projectId: 'p2' } } },
      { action: 'edit', resource: { type: 'ProjectInformation', attributes: { projectId: 'p2' } } },
      // The check reads a Project's id from resource.id first: the gate must judge that project, not the attribute.
      { action: 'view', resource: { type: 'Project', id: 'p2', attributes: { id: 'p1' } } },
    ]) {
      const response = await mia.post(explainPath(), { principal: { id: 'cole' }, ...question });
      expect(response.status).toBe(403);
      expect(response.body.error).toMatchObject({ code: 'forbidden', details: { action: 'view', subject: 'ProjectMember' } });
    }
    // A question that names no project reads no project's grants.
    const creation = await mia.post(explainPath(), { principal: { id: 'cole' }, action: 'create', resource: { type: 'Project' } });
    expect(creation).toMatchObject({ status: 200, body: { allowed: false } });
  });

  it("another company's admin, and a stranger asking about themself: 404 as for no company", async () => {
    for (const body of [
      { principal: { id: 'cole' }, action: 'use', resource: { type: 'Application' } },
      { principal: { id: 'otto' }, action: 'use', resource: { type: 'Application' } },
    ]) {
      const response = await as('otto').post(explainPath(), body);
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('not_found');
    }
  });

  it('refuses a company or a principal token in the body, and an anonymous caller', async () => {
    const withCompany = await owner.post(explainPath(), { company: 'globex', principal: { id: 'cole' }, action: 'use', resource: { type: 'Application' } });
    expect(withCompany.status).toBe(400);
    expect(withCompany.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'company' } });
    const withToken = await owner.post(explainPath(), { principal: { token: 'x' }, action: 'use', resource: { type: 'Application' } });
    expect(withToken.status).toBe(400);
    const anonymous = await api(app.url, 'POST', explainPath(), { principal: { id: 'cole' }, action: 'use', resource: { type: 'Application' } });
    expect(anonymous.status).toBe(401);
  });
});
