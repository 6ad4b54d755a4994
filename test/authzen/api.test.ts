import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient } from '../support/admin.js';
import { api, createTestEnvironment, startApp, type TestApp, type TestEnvironment } from '../support/app.js';
import { authzenSchema, validate } from '../support/json-schema.js';
import { servicesUp } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { seedCompany } from '../check/seed.js';

const CHECK_TOKEN = 'authzen-check-token-0123456789';
const user = (id: string) => ({ type: 'user', id });
const viewProject = (project: string, who = 'collab') => ({ subject: user(who), action: { name: 'view' }, resource: { type: 'Project', id: project } });

describe.skipIf(!servicesUp)('AuthZEN API (API.md, AuthZEN Authorization API 1.0)', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let guarded: TestApp;
  /** Every 200 of these helpers is held to the specification's schema of its endpoint. */
  const conforming = async <T extends { status: number; body: any }>(answer: Promise<T>, schema: (body: any) => string): Promise<T> => {
    const response = await answer;
    if (response.status === 200) expect(validate(authzenSchema(schema(response.body)), response.body)).toEqual([]);
    return response;
  };
  const evaluation = (body: unknown, headers: Record<string, string> = {}, instance = a) =>
    conforming(api(instance.url, 'POST', '/authzen/acme/access/v1/evaluation', body, headers), () => 'decision');
  const evaluations = (body: unknown, instance = a) =>
    conforming(api(instance.url, 'POST', '/authzen/acme/access/v1/evaluations', body), (answer) => ('evaluations' in answer ? 'evaluations-response' : 'decision'));

  beforeAll(async () => {
    env = await createTestEnvironment();
    a = await env.start();
    b = await env.start();
    guarded = await env.start({ CHECK_TOKEN });
    await seedCompany(a.app.store.db, a.app.policies, {
      id: 'acme',
      members: [
        { id: 'boss', role: 'admin', owner: true },
        { id: 'collab', role: 'collaborator', applicationAccess: true },
        { id: 'teamed', role: 'collaborator' },
        { id: 'mgr', role: 'manager' },
        { id: 'ed', role: 'editor' },
        { id: 'gone', role: 'editor', status: 'inactive' },
      ],
      teams: [{ id: 'design', members: ['teamed'] }],
      projects: ['p1', 'p2', 'p3'],
      grants: [
        { project: 'p1', role: 'contributor', user: 'collab' },
        { project: 'p2', role: 'viewer', team: 'design' },
      ],
    });
  });
  afterAll(() => env?.close());

  describe('bad input: 400 invalid_request naming the field, never a decision and never a 500', () => {
    const cases: Array<[string, unknown, string]> = [
      ['no subject', { action: { name: 'view' }, resource: { type: 'Project', id: 'p1' } }, 'subject'],
      ['a subject without id', { ...viewProject('p1'), subject: { type: 'user' } }, 'subject.id'],
      ['a subject that is not an object', { ...viewProject('p1'), subject: 'collab' }, 'subject'],
      ['a subject of another type', { ...viewProject('p1'), subject: { type: 'group', id: 'g1' } }, 'subject.type'],
      ['a subject id that is no user id', { ...viewProject('p1'), subject: user('a\u0000b') }, 'subject.id'],
      ['no action', { subject: user('collab'), resource: { type: 'Project', id: 'p1' } }, 'action'],
      ['an action without name', { ...viewProject('p1'), action: {} }, 'action.name'],
      ['an action outside the catalog', { ...viewProject('p1'), action: { name: 'fly' } }, 'action.name'],
      ['an action of another type', { ...viewProject('p1'), action: { name: 'use' } }, 'action.name'],
      ['no resource', { subject: user('collab'), action: { name: 'view' } }, 'resource'],
      ['a resource without type', { ...viewProject('p1'), resource: { id: 'p1' } }, 'resource.type'],
      ['a resource type outside the catalog', { ...viewProject('p1'), resource: { type: 'Invoice', id: '1' } }, 'resource.type'],
      ['a resource id that is no id', { ...viewProject('p1'), resource: { type: 'Project', id: 'p 1' } }, 'resource.id'],
      ['an attribute that is an object', { subject: user('collab'), action: { name: 'view' }, resource: { type: 'Scenario', properties: { projectId: { $ne: 'x' } } } }, 'resource.properties.projectId'],
      ['a field that is not the type\'s', { subject: user('mgr'), action: { name: 'view' }, resource: { type: 'CompanySettings', properties: { field: 'logo' } } }, 'resource.properties.field'],
      ['a minVersion that is not a decimal string', { ...viewProject('p1'), context: { minVersion: 7 } }, 'context.minVersion'],
      ['a context that is not an object', { ...viewProject('p1'), context: 'now' }, 'context'],
    ];
    for (const [name, body, path] of cases) {
      it(name, async () => {
        const response = await evaluation(body);
        expect(response.status, JSON.stringify(response.body)).toBe(400);
        expect(response.body.error).toMatchObject({ code: 'invalid_request', details: { path } });
        expect(response.body.error.message.startsWith(`${path}: `)).toBe(true);
      });
    }

    it('a body that is not JSON, or not an object', async () => {
      expect((await evaluation('{"subject":')).status).toBe(400);
      expect((await evaluation([viewProject('p1')])).body.error).toMatchObject({ code: 'invalid_request', details: { path: '(body)' } });
    });

    it('evaluations: over 1000 items, a semantic that does not exist, an item that is not an object', async () => {
      const many = await evaluations({ ...viewProject('p1'), evaluations: Array.from({ length: 1001 }, () => ({})) });
      expect(many.body.error.details.path).toBe('evaluations');
      const semantic = await evaluations({ ...viewProject('p1'), evaluations: [{}], options: { evaluations_semantic: 'first_come' } });
      expect(semantic.body.error.details.path).toBe('options.evaluations_semantic');
      const item = await evaluations({ ...viewProject('p1'), evaluations: ['p1', {}] });
      expect(item.status).toBe(200);
      expect(item.body.evaluations[0]).toEqual({ decision: false, context: { error: { status: 400, message: 'evaluations.0: must be an object' } } });
      expect(item.body.evaluations[1].decision).toBe(true);
    });
  });

  it('unknown fields are ignored, at every level (spec 10.1.1), unlike the rest of the API', async () => {
    const response = await evaluation({
      ...viewProject('p1'),
      subject: { ...user('collab'), nickname: 'c', properties: { department: 'Sales' } },
      resource: { type: 'Project', id: 'p1', owner: 'x', properties: { colour: 'red', nested: { deep: [1, 2] } } },
      action: { name: 'view', verb: 'GET' },
      context: { time: '2024-05-31T15:22-07:00', schema: 'https://schema.example.com/x.json' },
      extra: true,
      options: { anything: 1 },
    });
    expect(response.status).toBe(200);
    expect(response.body.decision).toBe(true);
  });

  it('a deny is a 200 with decision false and the reason, as /v1/check answers it', async () => {
    const response = await evaluation(viewProject('p3'));
    expect(response.status).toBe(200);
    expect(validate(authzenSchema('decision'), response.body)).toEqual([]);
    expect(response.body).toEqual({ decision: false, context: { reason_admin: { en: 'no rule allows view Project' }, version: expect.stringMatching(/^\d+$/) } });
  });

  it('decides exactly as /v1/check: the same allowed, reason and version for every member and question', async () => {
    const questions = [
      { action: 'view', resource: { type: 'Project', id: 'p1' } },
      { action: 'view', resource: { type: 'Project', id: 'p2' } },
      { action: 'view', resource: { type: 'Project', id: 'p-unregistered' } },
      { action: 'view', resource: { type: 'Project' } },
      { action: 'edit', resource: { type: 'Scenario', id: 's1', attributes: { projectId: 'p1' } } },
      { action: 'view', resource: { type: 'Scenario', attributes: { projectId: 'p2' } } },
      { action: 'edit', resource: { type: 'CompanySettings' }, field: 'branding' },
      { action: 'view', resource: { type: 'CompanySettings' }, field: 'subscription' },
      { action: 'use', resource: { type: 'Application' } },
      { action: 'delete', resource: { type: 'Company' } },
      { action: 'create', resource: { type: 'Project', id: 'p-new' } },
    ];
    for (const member of ['boss', 'collab', 'teamed', 'mgr', 'ed', 'gone', 'stranger']) {
      for (const q of questions) {
        const check = await api(a.url, 'POST', '/v1/check', { company: 'acme', principal: { id: member }, ...q });
        const properties = { ...q.resource.attributes, ...(q.field ? { field: q.field } : {}) };
        const authzen = await evaluation({ subject: user(member), action: { name: q.action }, resource: { type: q.resource.type, id: q.resource.id, properties } });
        expect(authzen.body, `${member} ${JSON.stringify(q)}`).toEqual({ decision: check.body.allowed, context: { reason_admin: { en: check.body.reason }, version: check.body.version } });
      }
    }
  });

  it('an unknown company or user is a deny, not an error', async () => {
    expect((await api(a.url, 'POST', '/authzen/globex/access/v1/evaluation', viewProject('p1'))).body.decision).toBe(false);
    expect((await evaluation(viewProject('p1', 'nobody'))).body.decision).toBe(false);
    expect((await api(a.url, 'POST', '/authzen/a%20b/access/v1/evaluation', viewProject('p1'))).body.error.details.path).toBe('company');
  });

  describe('evaluations', () => {
    it('items override the defaults whole; subjects may differ; answers keep request order', async () => {
      const response = await evaluations({
        subject: user('collab'),
        action: { name: 'view' },
        resource: { type: 'Project', id: 'p1' },
        evaluations: [
          {},
          { resource: { type: 'Project', id: 'p2' } },
          { subject: user('teamed'), resource: { type: 'Project', id: 'p2' } },
          { action: { name: 'edit' }, resource: { type: 'Scenario', properties: { projectId: 'p1' } } },
          { action: { name: 'delete' } },
        ],
      });
      expect(validate(authzenSchema('evaluations-response'), response.body)).toEqual([]);
      expect(response.body.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([true, false, true, true, false]);
    });

    it('an item that cannot be evaluated is a deny with its error; the others are answered', async () => {
      const response = await evaluations({
        subject: user('collab'),
        evaluations: [
          { action: { name: 'view' }, resource: { type: 'Project', id: 'p1' } },
          { action: { name: 'fly' }, resource: { type: 'Project', id: 'p1' } },
          { resource: { type: 'Project', id: 'p1' } },
          { action: { name: 'view' }, resource: { type: 'Project', id: 'p1' }, context: { minVersion: 'soon' } },
          { subject: { type: 'user' }, action: { name: 'view' }, resource: { type: 'Project', id: 'p1' } },
        ],
      });
      expect(response.status).toBe(200);
      expect(validate(authzenSchema('evaluations-response'), response.body)).toEqual([]);
      expect(response.body.evaluations).toEqual([
        { decision: true, context: expect.objectContaining({ version: expect.any(String) }) },
        { decision: false, context: { error: { status: 400, message: 'evaluations.1.action.name: "fly" is not an action of the catalog' } } },
        { decision: false, context: { error: { status: 400, message: 'evaluations.2.action: required, here or at the top level' } } },
        { decision: false, context: { error: { status: 400, message: 'evaluations.3.context.minVersion: must be a decimal string' } } },
        { decision: false, context: { error: { status: 400, message: 'evaluations.4.subject.id: required (a string)' } } },
      ]);
    });

    it('a deny stops deny_on_first_deny, an error too; an allow stops permit_on_first_permit', async () => {
      const items = [viewProject('p1'), viewProject('p3'), viewProject('p1')];
      const run = async (semantic: string, list: unknown[]) => (await evaluations({ evaluations: list, options: { evaluations_semantic: semantic } })).body.evaluations.map((e: { decision: boolean }) => e.decision);
      expect(await run('execute_all', items)).toEqual([true, false, true]);
      expect(await run('deny_on_first_deny', items)).toEqual([true, false]);
      expect(await run('permit_on_first_permit', items)).toEqual([true]);
      expect(await run('permit_on_first_permit', [viewProject('p3'), viewProject('p3'), viewProject('p1'), viewProject('p2')])).toEqual([false, false, true]);
      expect(await run('deny_on_first_deny', [viewProject('p1'), { action: { name: 'fly' } }, viewProject('p1')])).toEqual([true, false]);
      expect(await run('deny_on_first_deny', [viewProject('p1'), viewProject('p1')])).toEqual([true, true]);
    });

    it('without items (or with none) the top level is one evaluation, answered as one', async () => {
      expect((await evaluations(viewProject('p1'))).body).toMatchObject({ decision: true });
      expect((await evaluations({ ...viewProject('p1'), evaluations: [] })).body).toMatchObject({ decision: true });
      expect((await evaluations({ action: { name: 'view' }, evaluations: [] })).body.error.details.path).toBe('subject');
    });

    it('answers 1000 items', async () => {
      const response = await evaluations({ subject: user('collab'), action: { name: 'view' }, evaluations: Array.from({ length: 1000 }, (_, i) => ({ resource: { type: 'Project', id: `p${(i % 3) + 1}` } })) });
      expect(response.body.evaluations).toHaveLength(1000);
      expect(response.body.evaluations.slice(0, 3).map((e: { decision: boolean }) => e.decision)).toEqual([true, false, false]);
    });
  });

  describe('CHECK_TOKEN: the PEP authenticates with Authorization: Bearer <CHECK_TOKEN>', () => {
    for (const endpoint of ['evaluation', 'evaluations', 'search/subject', 'search/resource', 'search/action']) {
      it(`${endpoint}: 401 with WWW-Authenticate without it or with another, answered with it`, async () => {
        for (const headers of [{}, { authorization: 'Bearer not-the-check-token-0000' }] as Array<Record<string, string>>) {
          const refused = await api(guarded.url, 'POST', `/authzen/acme/access/v1/${endpoint}`, viewProject('p1'), headers);
          expect(refused.status).toBe(401);
          expect(refused.headers.get('www-authenticate')).toBe('Bearer');
          expect(refused.body.error.code).toBe('unauthenticated');
        }
        const body = endpoint === 'search/subject' ? { ...viewProject('p1'), subject: { type: 'user' } } : endpoint === 'search/resource' ? { ...viewProject('p1'), resource: { type: 'Project' } } : viewProject('p1');
        const allowed = await api(guarded.url, 'POST', `/authzen/acme/access/v1/${endpoint}`, body, { authorization: `Bearer ${CHECK_TOKEN}` });
        expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
      });
    }
    it('the metadata is public: a PEP discovers the endpoints before it authenticates', async () => {
      expect((await api(guarded.url, 'GET', '/.well-known/authzen-configuration/acme')).status).toBe(200);
    });
  });

  it('evaluations are counted beside the check API, by outcome and latency', async () => {
    await evaluation(viewProject('p1'));
    const metrics = await api(a.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/castellan_check_duration_seconds_count\{endpoint="authzen_evaluation"\} [1-9]/);
  });

  it('X-Request-ID is echoed, on answers and on errors', async () => {
    const headers = { 'x-request-id': 'pep-req-42' };
    expect((await evaluation(viewProject('p1'), headers)).headers.get('x-request-id')).toBe('pep-req-42');
    expect((await evaluation({}, headers)).headers.get('x-request-id')).toBe('pep-req-42');
    expect((await api(guarded.url, 'POST', '/authzen/acme/access/v1/evaluation', viewProject('p1'), headers)).headers.get('x-request-id')).toBe('pep-req-42');
  });

  it('metadata without PUBLIC_URL names the request\'s own host, and is not to be cached', async () => {
    const response = await api(a.url, 'GET', '/.well-known/authzen-configuration/acme');
    const host = new URL(a.url).host;
    expect(response.body).toMatchObject({ policy_decision_point: `http://${host}/acme`, access_evaluation_endpoint: `http://${host}/authzen/acme/access/v1/evaluation` });
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect((await api(a.url, 'GET', '/.well-known/authzen-configuration/a%20b')).status).toBe(400);
    const endpoint = await api(a.url, 'POST', new URL(response.body.access_evaluation_endpoint).pathname, viewProject('p1'));
    expect(endpoint.body.decision).toBe(true);
  });

  it('subject search follows a role edit at once: what it remembers of a version is never used at another', async () => {
    const question = { subject: { type: 'user' }, action: { name: 'view' }, resource: { type: 'Member' } };
    const ids = async (instance: TestApp, context?: { minVersion: string }) =>
      (await conforming(api(instance.url, 'POST', '/authzen/acme/access/v1/search/subject', { ...question, ...(context ? { context } : {}) }), () => 'search-subject-response')).body.results.map((r: { id: string }) => r.id);
    const before = await ids(b);
    expect(before).not.toContain('collab');
    const roles = await adminClient(a.url, 'boss').get('/v1/companies/acme/roles');
    const collaborator = roles.body.company.find((r: { key: string }) => r.key === 'collaborator').permissions;
    const write = await adminClient(a.url, 'boss').put('/v1/companies/acme/roles/company/collaborator', { permissions: [...collaborator, { action: 'view', subject: 'Member' }] });
    expect(write.status).toBe(200);
    const after = await ids(b, { minVersion: write.body.version });
    expect(after).toEqual(expect.arrayContaining([...before, 'collab', 'teamed']));
    await adminClient(a.url, 'boss').put('/v1/companies/acme/roles/company/collaborator', { permissions: collaborator });
  });

  it('two instances give the same answer for the same context.minVersion', async () => {
    // Warm B's cache with the old answer first, so only minVersion can make it see the write.
    expect((await evaluation(viewProject('p3', 'teamed'), {}, b)).body.decision).toBe(false);
    const write = await adminClient(a.url, 'boss').put('/v1/companies/acme/projects/p3/members/teams/design', { role: 'viewer' });
    expect(write.status).toBe(201);
    const context = { minVersion: write.body.version as string };
    const [onA, onB] = await Promise.all([evaluation({ ...viewProject('p3', 'teamed'), context }, {}, a), evaluation({ ...viewProject('p3', 'teamed'), context }, {}, b)]);
    expect(onA.body).toEqual(onB.body);
    expect(onB.body).toMatchObject({ decision: true, context: { version: write.body.version } });
    const subjects = { subject: { type: 'user' }, action: { name: 'view' }, resource: { type: 'Project', id: 'p3' }, context };
    const [searchA, searchB] = await Promise.all([a, b].map((instance) => conforming(api(instance.url, 'POST', '/authzen/acme/access/v1/search/subject', subjects), () => 'search-subject-response')));
    expect(searchA!.body).toEqual(searchB!.body);
    expect(searchB!.body.results).toContainEqual(user('teamed'));
    const ahead = await evaluation({ ...viewProject('p1'), context: { minVersion: String(BigInt(write.body.version) + 1000n) } }, {}, b);
    expect(ahead.status).toBe(503);
  });
});

describe.skipIf(!servicesUp)('AuthZEN when the store is away', () => {
  let env: TestEnvironment;
  let proxy: TcpProxy;
  let app: TestApp;

  beforeAll(async () => {
    env = await createTestEnvironment();
    proxy = await startTcpProxy('127.0.0.1', 5432);
    const url = new URL(env.database.url);
    url.port = String(proxy.port);
    app = await startApp({ ...env.env, DATABASE_URL: url.toString() });
    await seedCompany(app.app.store.db, app.app.policies, { id: 'acme', members: [{ id: 'cached', role: 'admin', owner: true }, { id: 'cold', role: 'admin' }], projects: ['p1'] });
  });
  afterAll(async () => {
    await app?.close().catch(() => {});
    await proxy?.close();
    await env?.close();
  });

  it('503 when no decision can be taken, per item in evaluations; never an allow', async () => {
    const path = '/authzen/acme/access/v1';
    expect((await api(app.url, 'POST', `${path}/evaluation`, viewProject('p1', 'cached'))).body.decision).toBe(true);
    await proxy.cut();
    try {
      const cold = await api(app.url, 'POST', `${path}/evaluation`, viewProject('p1', 'cold'));
      expect(cold.status).toBe(503);
      expect(cold.body.error.code).toBe('unavailable');
      const batch = await api(app.url, 'POST', `${path}/evaluations`, { evaluations: [viewProject('p1', 'cached'), viewProject('p1', 'cold')] });
      expect(batch.status).toBe(200);
      expect(batch.body.evaluations[0].decision).toBe(true);
      expect(batch.body.evaluations[1]).toMatchObject({ decision: false, context: { error: { status: 503 } } });
      const search = await api(app.url, 'POST', `${path}/search/subject`, { ...viewProject('p1'), subject: { type: 'user' } });
      expect(search.status).toBe(503);
    } finally {
      await proxy.restore();
    }
  });
});
