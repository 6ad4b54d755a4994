import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

describe.skipIf(!servicesUp)('GET /v1/companies/{c}/projects', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let olga: AdminClient;
  const as = (userId: string) => adminClient(app.url, userId);
  const ids = (body: { projects: Array<{ id: string }> }) => body.projects.map((p) => p.id);

  async function join(userId: string, role: string) {
    expect((await olga.post('/v1/companies/plist/invitations', { email: `${userId}@example.test`, role })).status).toBe(201);
    expect((await as(userId).post('/v1/companies/plist/invitations/accept')).status).toBe(200);
    return as(userId);
  }

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    olga = as('olga');
    await createCompany(olga, 'plist');
    await join('eddie', 'editor');
    await join('cora', 'collaborator');
    await join('cole', 'collaborator');
    await olga.post('/v1/companies/plist/teams', { id: 'crew', name: 'Crew' });
    await olga.put('/v1/companies/plist/teams/crew/members/cora');
    for (const id of ['p-a', 'p-b', 'p-c', 'p-d', 'p-e']) expect((await olga.put(`/v1/companies/plist/projects/${id}`, { name: `Project ${id}` })).status).toBe(201);
    await olga.put('/v1/companies/plist/projects/p-b/members/users/cora', { role: 'viewer' });
    await olga.put('/v1/companies/plist/projects/p-b/members/users/eddie', { role: 'contributor' });
    await olga.put('/v1/companies/plist/projects/p-b/members/teams/crew', { role: 'contributor' });
    await olga.put('/v1/companies/plist/projects/p-d/members/teams/crew', { role: 'viewer' });
    // Another company's project never shows.
    const greta = as('greta');
    await createCompany(greta, 'other');
    await greta.put('/v1/companies/other/projects/p-x', { name: 'Elsewhere' });
  });
  afterAll(() => env?.close());

  it('pages through every project, in id order, with member and team counts', async () => {
    const first = await olga.get('/v1/companies/plist/projects?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.projects).toEqual([
      { id: 'p-a', name: 'Project p-a', createdBy: 'olga', createdAt: expect.any(String), memberCount: 1, teamCount: 0 },
      { id: 'p-b', name: 'Project p-b', createdBy: 'olga', createdAt: expect.any(String), memberCount: 3, teamCount: 1 },
    ]);
    expect(first.body.next).toEqual(expect.any(String));
    const second = await olga.get(`/v1/companies/plist/projects?limit=2&after=${first.body.next}`);
    expect(ids(second.body)).toEqual(['p-c', 'p-d']);
    expect(second.body.projects[1]).toMatchObject({ memberCount: 1, teamCount: 1 });
    const last = await olga.get(`/v1/companies/plist/projects?limit=2&after=${second.body.next}`);
    expect(last.body).toEqual({ projects: [expect.objectContaining({ id: 'p-e' })], next: null });
    // The default page holds them all.
    expect(ids((await olga.get('/v1/companies/plist/projects')).body)).toEqual(['p-a', 'p-b', 'p-c', 'p-d', 'p-e']);
    // An editor sees every project too (D8, D18).
    expect(ids((await as('eddie').get('/v1/companies/plist/projects')).body)).toEqual(['p-a', 'p-b', 'p-c', 'p-d', 'p-e']);
  });

  it('a collaborator sees only the projects granted to them, directly or through a team, paged over those', async () => {
    const first = await as('cora').get('/v1/companies/plist/projects?limit=1');
    expect(ids(first.body)).toEqual(['p-b']);
    const second = await as('cora').get(`/v1/companies/plist/projects?limit=1&after=${first.body.next}`);
    expect(second.body).toEqual({ projects: [expect.objectContaining({ id: 'p-d', memberCount: 1, teamCount: 1 })], next: null });
    expect((await as('cole').get('/v1/companies/plist/projects')).body).toEqual({ projects: [], next: null });
  });

  it('refuses strangers (404), a mangled cursor and a bad limit (400)', async () => {
    expect((await as('greta').get('/v1/companies/plist/projects')).status).toBe(404);
    const badCursor = await olga.get('/v1/companies/plist/projects?after=not%20a%20cursor');
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'after' } });
    // base64url of something that is no project id.
    const notAnId = await olga.get(`/v1/companies/plist/projects?after=${Buffer.from('a b', 'utf8').toString('base64url')}`);
    expect(notAnId.status).toBe(400);
    for (const limit of ['0', '501', 'ten']) {
      const response = await olga.get(`/v1/companies/plist/projects?limit=${limit}`);
      expect(response.status, limit).toBe(400);
      expect(response.body.error.details.path).toBe('limit');
    }
  });
});
