import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { authzenSchema, validate } from '../support/json-schema.js';
import { servicesUp } from '../support/services.js';
import { seedCompany, type SeedMember } from '../check/seed.js';

/**
 * The Search APIs answer exactly what /v1/check allows: for every question, the subjects
 * (through company roles and tags, direct and team grants), the projects and the actions
 * are compared with /v1/check asked one by one.
 */

type Question = { action: string; resource: { type: string; id?: string; attributes?: Record<string, string> }; field?: string };

const MEMBERS: SeedMember[] = [
  { id: 'admin-owner', role: 'admin', owner: true },
  { id: 'admin-app', role: 'admin', applicationAccess: true },
  { id: 'mgr', role: 'manager', developerAccess: true },
  { id: 'mgr-invited', role: 'manager', status: 'invited' },
  { id: 'ed-1', role: 'editor' },
  { id: 'ed-gone', role: 'editor', status: 'inactive' },
  ...Array.from({ length: 12 }, (_, i): SeedMember => ({ id: `collab-${String(i).padStart(2, '0')}`, role: 'collaborator', applicationAccess: i % 3 === 0 })),
  { id: 'Zed|auth0', role: 'collaborator' },
  { id: 'ümlaut@example.com', role: 'collaborator' },
];
const PROJECTS = ['p1', 'p2', 'p3', 'p4'];

const QUESTIONS: Question[] = [
  ...PROJECTS.flatMap((p) => [
    { action: 'view', resource: { type: 'Project', id: p } },
    { action: 'edit', resource: { type: 'Project', id: p } },
    { action: 'manage', resource: { type: 'Project', id: p } },
    { action: 'edit', resource: { type: 'Scenario', id: 's1', attributes: { projectId: p } } },
    { action: 'view', resource: { type: 'ProjectInformation', attributes: { projectId: p } } },
    { action: 'invite', resource: { type: 'ProjectMember', attributes: { projectId: p } } },
  ]),
  { action: 'view', resource: { type: 'Project', id: 'p-unregistered' } },
  { action: 'view', resource: { type: 'Project' } },
  { action: 'create', resource: { type: 'Project', id: 'p-new' } },
  { action: 'edit', resource: { type: 'CompanySettings' }, field: 'branding' },
  { action: 'view', resource: { type: 'CompanySettings' }, field: 'subscription' },
  { action: 'view', resource: { type: 'CompanySettings' } },
  { action: 'view', resource: { type: 'Member' } },
  { action: 'use', resource: { type: 'Application' } },
  { action: 'use', resource: { type: 'Builder' } },
  { action: 'delete', resource: { type: 'Company' } },
];

const user = (id: string) => ({ type: 'user', id });
const asResource = (q: Question) => ({ type: q.resource.type, ...(q.resource.id ? { id: q.resource.id } : {}), properties: { ...q.resource.attributes, ...(q.field ? { field: q.field } : {}) } });

describe.skipIf(!servicesUp)('AuthZEN search', () => {
  let env: TestEnvironment;
  let app: TestApp;
  /** Every 200 is held to the specification's schema of the search. */
  const search = async (kind: string, body: unknown, company = 'acme') => {
    const response = await api(app.url, 'POST', `/authzen/${company}/access/v1/search/${kind}`, body);
    if (response.status === 200) expect(validate(authzenSchema(`search-${kind}-response`), response.body)).toEqual([]);
    return response;
  };
  const allowed = async (member: string, q: Question) => (await api(app.url, 'POST', '/v1/check', { company: 'acme', principal: { id: member }, ...q })).body.allowed as boolean;

  /** Every page of a search, each held to the schema; the results in the order given. */
  async function allPages(kind: string, body: Record<string, unknown>, limit: number): Promise<Array<Record<string, string>>> {
    const results: Array<Record<string, string>> = [];
    let token: string | undefined;
    for (let pages = 0; pages < 1000; pages++) {
      const response = await search(kind, { ...body, page: { limit, ...(token ? { token } : {}) } });
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(validate(authzenSchema(`search-${kind}-response`), response.body)).toEqual([]);
      expect(response.body.results.length).toBeLessThanOrEqual(limit);
      expect(response.body.page.count).toBe(response.body.results.length);
      results.push(...response.body.results);
      token = response.body.page.next_token;
      if (token === '') return results;
    }
    throw new Error('the search never ended');
  }

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    await seedCompany(app.app.store.db, app.app.policies, {
      id: 'acme',
      members: MEMBERS,
      teams: [
        { id: 'design', members: ['collab-03', 'collab-04', 'ed-gone', 'Zed|auth0'] },
        { id: 'ops', members: ['collab-05', 'collab-04'] },
      ],
      projects: PROJECTS,
      // A collaborator role that sees members and the branding section; an editor that may not see p-anything it is not granted.
      companyRoles: {
        collaborator: [{ action: 'view', subject: 'Member' }],
        editor: [{ action: 'view', subject: 'CompanySettings' }, { action: 'view', subject: 'Project' }, { action: 'view', subject: 'CompanySettings', fields: ['subscription'], inverted: true }],
      },
      projectRoles: [
        { key: 'inviter', permissions: [{ action: 'invite', subject: 'ProjectMember' }, { action: 'view', subject: 'ProjectInformation' }] },
        { key: 'scenario-editor', permissions: [{ action: 'edit', subject: 'Scenario' }] },
      ],
      grants: [
        { project: 'p1', role: 'contributor', user: 'collab-00' },
        { project: 'p1', role: 'project-admin', user: 'collab-01' },
        { project: 'p1', role: 'viewer', team: 'design' },
        { project: 'p2', role: 'inviter', user: 'collab-02' },
        { project: 'p2', role: 'scenario-editor', team: 'ops' },
        { project: 'p2', role: 'project-admin', user: 'ümlaut@example.com' },
        { project: 'p3', role: 'viewer', user: 'ed-1' },
        { project: 'p3', role: 'contributor', team: 'design' },
        { project: 'p4', role: 'viewer', user: 'mgr-invited' },
      ],
    });
  });
  afterAll(() => env?.close());

  it('subject search finds exactly the users /v1/check allows, through roles, tags, direct and team grants', async () => {
    for (const q of QUESTIONS) {
      const found = await allPages('subject', { subject: { type: 'user' }, action: { name: q.action }, resource: asResource(q) }, 7);
      const ids = found.map((r) => r.id!);
      expect(new Set(ids).size, 'no user twice').toBe(ids.length);
      expect(found.every((r) => r.type === 'user')).toBe(true);
      const expected: string[] = [];
      for (const member of [...MEMBERS.map((m) => m.id), 'stranger']) if (await allowed(member, q)) expected.push(member);
      expect([...ids].sort(), JSON.stringify(q)).toEqual(expected.sort());
    }
  });

  it('resource search lists exactly the projects /v1/check allows, in order, for every member', async () => {
    for (const member of MEMBERS.map((m) => m.id)) {
      for (const action of ['view', 'edit', 'delete', 'manage', 'create']) {
        const found = await allPages('resource', { subject: user(member), action: { name: action }, resource: { type: 'Project' } }, 2);
        const expected: string[] = [];
        for (const p of PROJECTS) if (await allowed(member, { action, resource: { type: 'Project', id: p } })) expected.push(p);
        expect(found, `${member} ${action}`).toEqual(expected.map((id) => ({ type: 'Project', id })));
      }
    }
  });

  it('action search lists exactly the actions /v1/check allows, in the catalog order', async () => {
    const resources: Question['resource'][] = [
      { type: 'Project', id: 'p1' },
      { type: 'Project', id: 'p2' },
      { type: 'Scenario', attributes: { projectId: 'p2' } },
      { type: 'ProjectMember', attributes: { projectId: 'p2' } },
      { type: 'Member' },
      { type: 'Application' },
    ];
    const catalog = app.app.policies.catalog;
    for (const member of MEMBERS.map((m) => m.id)) {
      for (const resource of resources) {
        const found = await allPages('action', { subject: user(member), resource: asResource({ action: 'view', resource }) }, 2);
        const expected: string[] = [];
        for (const action of catalog.subjects[resource.type]!.actions) if (await allowed(member, { action, resource })) expected.push(action);
        expect(found.map((a) => a.name), `${member} ${JSON.stringify(resource)}`).toEqual(expected);
      }
    }
    const sections = await search('action', { subject: user('mgr'), resource: { type: 'CompanySettings', properties: { field: 'branding' } } });
    expect(sections.body.results).toEqual([{ name: 'view' }, { name: 'edit' }]);
  });

  describe('paging', () => {
    const body = { subject: { type: 'user' }, action: { name: 'view' }, resource: { type: 'Member' } };

    it('pages of page.limit (100 by default), next_token "" on the last, every result once, in user id order', async () => {
      const whole = await search('subject', body);
      expect(whole.body.page).toEqual({ next_token: '', count: whole.body.results.length });
      const paged = await allPages('subject', body, 3);
      expect(paged).toEqual(whole.body.results);
      const pagedOne = await allPages('subject', body, 1);
      expect(pagedOne).toEqual(whole.body.results);
    });

    it('a token stands for its first page: other parameters are refused with 400; page.limit may be left out', async () => {
      const first = await search('subject', { ...body, page: { limit: 2 } });
      const token = first.body.page.next_token as string;
      expect(token).not.toBe('');
      const next = async (changes: Record<string, unknown>, page: Record<string, unknown> = { token, limit: 2 }) => search('subject', { ...body, ...changes, page });
      expect((await next({})).status).toBe(200);
      expect((await next({}, { token })).status).toBe(200);
      for (const changes of [{ action: { name: 'invite' } }, { resource: { type: 'Team' } }, { context: { minVersion: '1' } }, { resource: { type: 'Member', properties: { x: 1 } } }]) {
        const refused = await next(changes);
        expect(refused.status, JSON.stringify(changes)).toBe(400);
        expect(refused.body.error.details.path).toBe('page.token');
      }
      const otherLimit = await next({}, { token, limit: 3 });
      expect(otherLimit.body.error.details.path).toBe('page.limit');
      const elsewhere = await api(app.url, 'POST', '/authzen/acme/access/v1/search/action', { subject: user('mgr'), resource: { type: 'Member' }, page: { token } });
      expect(elsewhere.body.error.details.path).toBe('page.token');
      for (const garbage of ['', 'not-a-token', Buffer.from('{"b":1}').toString('base64url')]) {
        expect((await next({}, { token: garbage })).body.error.details.path, garbage).toBe('page.token');
      }
    });

    it('page.limit from 0 to 1000', async () => {
      const none = await search('subject', { ...body, page: { limit: 0 } });
      expect(none.body.results).toEqual([]);
      expect(none.body.page.next_token).not.toBe('');
      const resumed = await search('subject', { ...body, page: { token: none.body.page.next_token } });
      expect(resumed.body.results).toEqual([]);
      for (const limit of [-1, 1001, 2.5, '10']) expect((await search('subject', { ...body, page: { limit } })).body.error.details.path).toBe('page.limit');
    });

    it('the first page\'s version is the floor of the next ones', async () => {
      const first = await search('resource', { subject: user('admin-owner'), action: { name: 'view' }, resource: { type: 'Project' }, page: { limit: 1 } });
      const state = JSON.parse(Buffer.from(first.body.page.next_token, 'base64url').toString('utf8'));
      expect(state.v).toBe(first.body.context.version);
    });
  });

  it('what search does not answer: resource search of a type whose ids Castellan does not hold, a subject type other than user', async () => {
    const scenarios = await search('resource', { subject: user('collab-00'), action: { name: 'view' }, resource: { type: 'Scenario' } });
    expect(scenarios.status).toBe(400);
    expect(scenarios.body.error.details.path).toBe('resource.type');
    const groups = await search('subject', { subject: { type: 'group' }, action: { name: 'view' }, resource: { type: 'Member' } });
    expect(groups.body.error.details.path).toBe('subject.type');
    const unknown = await search('action', { subject: user('mgr'), resource: { type: 'Invoice' } });
    expect(unknown.body.error.details.path).toBe('resource.type');
    // The searched subject's id, if sent, is ignored (8.4.1).
    const withId = await search('subject', { subject: { type: 'user', id: 'mgr' }, action: { name: 'delete' }, resource: { type: 'Company' } });
    expect(withId.body.results).toEqual([user('admin-owner')]);
  });

  it('an unknown company has no subjects, resources or actions', async () => {
    expect((await search('subject', { subject: { type: 'user' }, action: { name: 'view' }, resource: { type: 'Member' } }, 'globex')).body).toMatchObject({ results: [], context: { version: '0' } });
    expect((await search('resource', { subject: user('mgr'), action: { name: 'view' }, resource: { type: 'Project' } }, 'globex')).body.results).toEqual([]);
    expect((await search('action', { subject: user('mgr'), resource: { type: 'Member' } }, 'globex')).body.results).toEqual([]);
  });
});

describe.skipIf(!servicesUp)('AuthZEN subject search on a large project', () => {
  let env: TestEnvironment;
  let app: TestApp;
  const MEMBERS_ON_PROJECT = 1500;

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    const ids = Array.from({ length: MEMBERS_ON_PROJECT }, (_, i) => `u${String(i).padStart(5, '0')}`);
    await seedCompany(app.app.store.db, app.app.policies, {
      id: 'big',
      members: [...ids.map((id) => ({ id, role: 'collaborator' as const })), ...Array.from({ length: 300 }, (_, i) => ({ id: `other${i}`, role: 'collaborator' as const }))],
      teams: [{ id: 'half', members: ids.filter((_, i) => i % 2 === 1) }],
      projects: ['big-project', 'elsewhere'],
      grants: [
        ...ids.filter((_, i) => i % 2 === 0).map((user) => ({ project: 'big-project', role: 'viewer', user })),
        { project: 'big-project', role: 'viewer', team: 'half' },
        ...Array.from({ length: 300 }, (_, i) => ({ project: 'elsewhere', role: 'viewer', user: `other${i}` })),
      ],
    });
  });
  afterAll(() => env?.close());

  it('pages through every member, direct and through the team, once each and in order', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const response = await api(app.url, 'POST', '/authzen/big/access/v1/search/subject', {
        subject: { type: 'user' },
        action: { name: 'view' },
        resource: { type: 'Project', id: 'big-project' },
        page: { limit: 100, ...(token ? { token } : {}) },
      });
      expect(response.status).toBe(200);
      expect(response.body.results.length).toBeLessThanOrEqual(100);
      seen.push(...response.body.results.map((r: { id: string }) => r.id));
      token = response.body.page.next_token;
      pages++;
    } while (token);
    expect(pages).toBe(MEMBERS_ON_PROJECT / 100);
    expect(seen).toEqual(Array.from({ length: MEMBERS_ON_PROJECT }, (_, i) => `u${String(i).padStart(5, '0')}`));
  });
});
