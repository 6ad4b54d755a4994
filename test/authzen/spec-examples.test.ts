import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { authzenSchema, validate } from '../support/json-schema.js';
import { servicesUp } from '../support/services.js';
import { seedCompany } from '../check/seed.js';

/**
 * Every example request in the text of the AuthZEN Authorization API 1.0 (openid/authzen,
 * api/authorization-api-1_0.md), transcribed as written and mapped onto Castellan's catalog:
 * documents, accounts and todos are projects; can_read and read are view, can_edit and
 * can_write are edit. The companies are built so that Castellan's answers are the
 * specification's example answers wherever it gives one.
 */

const TYPES: Record<string, string> = { account: 'Project', document: 'Project', todo: 'Project', doc: 'Project' };
const ACTIONS: Record<string, string> = { can_read: 'view', read: 'view', can_edit: 'edit', can_write: 'edit' };
const SPEC_ACTION: Record<string, string> = { view: 'can_read', edit: 'can_write' };

/** The example with its resource types and action names in Castellan's catalog; everything else as written. */
function mapped(example: unknown, key = ''): unknown {
  if (Array.isArray(example)) return example.map((item) => mapped(item));
  if (example === null || typeof example !== 'object') return example;
  const object = Object.fromEntries(Object.entries(example).map(([k, v]) => [k, mapped(v, k)]));
  if (key === 'resource' && typeof object.type === 'string' && TYPES[object.type]) object.type = TYPES[object.type];
  if (key === 'action' && typeof object.name === 'string' && ACTIONS[object.name]) object.name = ACTIONS[object.name];
  return object;
}

const alice = { type: 'user', id: 'alice@example.com' };
const decisions = (body: { evaluations: Array<{ decision: boolean }> }) => body.evaluations.map((e) => e.decision);

describe.skipIf(!servicesUp)('AuthZEN 1.0: the examples of the specification', () => {
  let env: TestEnvironment;
  let pdp: TestApp;
  const post = async (company: string, endpoint: string, example: unknown, headers: Record<string, string> = {}) => {
    const response = await api(pdp.url, 'POST', `/authzen/${company}/access/v1/${endpoint}`, mapped(example), headers);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response;
  };
  const conforms = (schema: string, body: unknown) => expect(validate(authzenSchema(schema), body)).toEqual([]);

  beforeAll(async () => {
    env = await createTestEnvironment();
    pdp = await env.start({ PUBLIC_URL: 'https://pdp.example.com' });
    const { db } = pdp.app.store;
    const { policies } = pdp.app;
    // Documents (section 7): alice reads 1, 3 and the three markdown files, edits resource-search.md.
    await seedCompany(db, policies, {
      id: 'docs',
      members: [{ id: 'alice@example.com', role: 'collaborator' }],
      projects: ['1', '2', '3', '123', 'boxcarring.md', 'subject-search.md', 'resource-search.md'],
      grants: [
        ...['1', '3', '123', 'boxcarring.md', 'subject-search.md'].map((project) => ({ project, role: 'viewer', user: 'alice@example.com' })),
        { project: 'resource-search.md', role: 'project-admin', user: 'alice@example.com' },
      ],
    });
    // Accounts (sections 8 and 10): alice reads 123, 456 and 789 and writes 123; bob reads 123; carol nothing.
    await seedCompany(db, policies, {
      id: 'accounts',
      members: ['alice@example.com', 'bob@example.com', 'carol@example.com'].map((id) => ({ id, role: 'collaborator' as const })),
      projects: ['123', '456', '789'],
      projectRoles: [{ key: 'reader-writer', permissions: [{ action: 'view', subject: 'Project' }, { action: 'edit', subject: 'Project' }] }],
      grants: [
        { project: '123', role: 'reader-writer', user: 'alice@example.com' },
        { project: '456', role: 'viewer', user: 'alice@example.com' },
        { project: '789', role: 'viewer', user: 'alice@example.com' },
        { project: '123', role: 'viewer', user: 'bob@example.com' },
      ],
    });
  });
  afterAll(() => env?.close());

  it('6.1.1 Access Evaluation request (action and context properties are the PEP\'s own)', async () => {
    const { body } = await post('docs', 'evaluation', {
      subject: { type: 'user', id: 'alice@example.com' },
      resource: { type: 'account', id: '123' },
      action: { name: 'can_read', properties: { method: 'GET' } },
      context: { time: '1985-10-26T01:22-07:00' },
    });
    conforms('decision', body);
    expect(body).toEqual({ decision: true, context: { reason_admin: { en: 'project membership on project 123 allows view Project' }, version: expect.any(String) } });
  });

  it('5.1 to 5.4 entity examples: subject, resource and action properties are ignored', async () => {
    const subjects = [
      { type: 'user', id: 'alice@example.com' },
      { type: 'user', id: 'alice@example.com', properties: { department: 'Sales' } },
      { type: 'user', id: 'alice@example.com', properties: { ip_address: '172.217.22.14', device_id: '8:65:ee:17:7e:0b' } },
    ];
    const resources = [
      { type: 'book', id: '123' },
      { type: 'book', id: '123', properties: { library_record: { title: 'AuthZEN in Action', isbn: '978-0593383322' } } },
    ].map((r) => ({ ...r, type: 'account' }));
    const actions = [{ name: 'can_read' }, { name: 'extend-loan', properties: { period: '2W' } }].map((a) => ({ ...a, name: 'can_read' }));
    const contexts = [{ time: '1985-10-26T01:22-07:00' }, { time: '1985-10-26T01:22-07:00', schema: 'https://schema.example.com/access-request.schema.json' }];
    for (const subject of subjects) {
      for (const resource of resources) {
        for (const [i, action] of actions.entries()) {
          const { body } = await post('docs', 'evaluation', { subject, resource, action, context: contexts[i % 2] });
          expect(body.decision).toBe(true);
        }
      }
    }
  });

  it('7.1 three evaluations, no defaults', async () => {
    const item = (id: string) => ({ subject: alice, action: { name: 'can_read' }, resource: { type: 'document', id }, context: { time: '2024-05-31T15:22-07:00' } });
    const { body } = await post('docs', 'evaluations', { evaluations: [item('boxcarring.md'), item('subject-search.md'), item('resource-search.md')] });
    conforms('evaluations-response', body);
    expect(decisions(body)).toEqual([true, true, true]);
  });

  it('7.1.1 defaults: one subject and context for three evaluations', async () => {
    const { body } = await post('docs', 'evaluations', {
      subject: alice,
      context: { time: '2024-05-31T15:22-07:00' },
      evaluations: ['boxcarring.md', 'subject-search.md', 'resource-search.md'].map((id) => ({ action: { name: 'can_read' }, resource: { type: 'document', id } })),
    });
    conforms('evaluations-response', body);
    expect(decisions(body)).toEqual([true, true, true]);
  });

  it('7.1.1 a default action overridden by the third evaluation', async () => {
    const example = {
      subject: alice,
      context: { time: '2024-05-31T15:22-07:00' },
      action: { name: 'can_read' },
      evaluations: [
        { resource: { type: 'document', id: 'boxcarring.md' } },
        { resource: { type: 'document', id: 'subject-search.md' } },
        { action: { name: 'can_edit' }, resource: { type: 'document', id: 'resource-search.md' } },
      ],
    };
    const { body } = await post('docs', 'evaluations', example);
    conforms('evaluations-response', body);
    expect(body.evaluations.map((e: { context: { reason_admin: { en: string } } }) => e.context.reason_admin.en)).toEqual([
      'project membership on project boxcarring.md allows view Project',
      'project membership on project subject-search.md allows view Project',
      'role project-admin on project resource-search.md allows manage Project',
    ]);
    // The override decides: the second document may be read, not edited.
    const overridden = await post('docs', 'evaluations', { ...example, evaluations: [{ action: { name: 'can_edit' }, resource: { type: 'document', id: 'subject-search.md' } }] });
    expect(decisions(overridden.body)).toEqual([false]);
  });

  it('7.1.2 options: an item without an action and of subject type "doc" cannot be evaluated; unknown options are ignored', async () => {
    const { body } = await post('docs', 'evaluations', {
      evaluations: [{ resource: { type: 'doc', id: '1' }, subject: { type: 'doc', id: '2' } }],
      options: { evaluations_semantic: 'execute_all', another_option: 'value' },
    });
    conforms('evaluations-response', body);
    expect(body).toEqual({ evaluations: [{ decision: false, context: { error: { status: 400, message: 'evaluations.0.action: required, here or at the top level' } } }] });
    const withAction = await post('docs', 'evaluations', { action: { name: 'can_read' }, evaluations: [{ resource: { type: 'doc', id: '1' }, subject: { type: 'doc', id: '2' } }] });
    expect(withAction.body.evaluations[0].context.error).toEqual({ status: 400, message: 'evaluations.0.subject.type: must be "user" (got "doc")' });
  });

  describe('7.1.2.1 read three documents under each semantic: the answers of the specification', () => {
    const example = (semantic: string) => ({
      subject: alice,
      action: { name: 'read' },
      options: { evaluations_semantic: semantic },
      evaluations: ['1', '2', '3'].map((id) => ({ resource: { type: 'document', id } })),
    });
    for (const [semantic, expected] of [
      ['execute_all', [true, false, true]],
      ['deny_on_first_deny', [true, false]],
      ['permit_on_first_permit', [true]],
    ] as const) {
      it(semantic, async () => {
        const { body } = await post('docs', 'evaluations', example(semantic));
        conforms('evaluations-response', body);
        expect(decisions(body)).toEqual(expected);
      });
    }
  });

  it('8.2.3 pagination: three results two at a time, the second request with the token', async () => {
    const first = await post('accounts', 'search/resource', { subject: alice, action: { name: 'can_read' }, resource: { type: 'account' }, page: { limit: 2 } });
    conforms('search-resource-response', first.body);
    expect(first.body.results).toEqual([{ type: 'Project', id: '123' }, { type: 'Project', id: '456' }]);
    expect(first.body.page).toEqual({ next_token: expect.stringMatching(/.+/), count: 2 });
    const second = await post('accounts', 'search/resource', { subject: alice, action: { name: 'can_read' }, resource: { type: 'account' }, page: { token: first.body.page.next_token } });
    // The example's second request leaves page.limit out: the token keeps the first page's (a different one is refused).
    conforms('search-resource-response', second.body);
    expect(second.body).toMatchObject({ page: { next_token: '', count: 1 }, results: [{ type: 'Project', id: '789' }] });
  });

  it('8.4.2 subject search: who may read account 123', async () => {
    const { body } = await post('accounts', 'search/subject', { subject: { type: 'user' }, action: { name: 'can_read' }, resource: { type: 'account', id: '123' }, context: { time: '2024-10-26T01:22-07:00' } });
    conforms('search-subject-response', body);
    expect(body.results).toEqual([alice, { type: 'user', id: 'bob@example.com' }]);
    expect(body.page).toEqual({ next_token: '', count: 2 });
  });

  it('8.5.2 resource search: which accounts alice may read', async () => {
    const { body } = await post('accounts', 'search/resource', { subject: alice, action: { name: 'can_read' }, resource: { type: 'account' } });
    conforms('search-resource-response', body);
    expect(body.results.map((r: { id: string }) => r.id)).toEqual(['123', '456', '789']);
  });

  it('8.6.2 action search: what alice may do on account 123', async () => {
    const { body } = await post('accounts', 'search/action', { subject: alice, resource: { type: 'account', id: '123' }, context: { time: '2024-10-26T01:22-07:00' } });
    conforms('search-action-response', body);
    expect(body.results.map((a: { name: string }) => SPEC_ACTION[a.name])).toEqual(['can_read', 'can_write']);
  });

  describe('10.1 the HTTPS binding examples: the request id is echoed', () => {
    const requestId = 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716';
    const headers = { authorization: 'Bearer mF_9.B5f-4.1JqM', 'x-request-id': requestId };
    const cases: Array<[string, string, string, unknown, (body: any) => void]> = [
      [
        'Access Evaluation',
        'docs',
        'evaluation',
        { subject: alice, resource: { type: 'todo', id: '1' }, action: { name: 'can_read' }, context: { time: '1985-10-26T01:22-07:00' } },
        (body) => expect(body.decision).toBe(true),
      ],
      [
        'Access Evaluations',
        'docs',
        'evaluations',
        {
          subject: alice,
          context: { time: '2024-05-31T15:22-07:00' },
          action: { name: 'can_read' },
          evaluations: [
            { resource: { type: 'document', id: 'boxcarring.md' } },
            { resource: { type: 'document', id: 'subject-search.md' } },
            { action: { name: 'can_edit' }, resource: { type: 'document', id: 'resource-search.md' } },
          ],
        },
        (body) => expect(decisions(body)).toEqual([true, true, true]),
      ],
      ['Subject Search', 'accounts', 'search/subject', { subject: { type: 'user' }, action: { name: 'can_read' }, resource: { type: 'account', id: '123' } }, (body) => expect(body.results).toHaveLength(2)],
      ['Resource Search', 'accounts', 'search/resource', { subject: alice, action: { name: 'can_read' }, resource: { type: 'account' } }, (body) => expect(body.results).toHaveLength(3)],
      [
        'Action Search',
        'accounts',
        'search/action',
        { subject: alice, resource: { type: 'account', id: '123' }, context: { time: '2024-10-26T01:22-07:00' } },
        (body) => expect(body.results).toEqual([{ name: 'view' }, { name: 'edit' }]),
      ],
    ];
    const schemaOf: Record<string, string> = { evaluation: 'decision', evaluations: 'evaluations-response', 'search/subject': 'search-subject-response', 'search/resource': 'search-resource-response', 'search/action': 'search-action-response' };
    for (const [name, company, endpoint, example, check] of cases) {
      it(name, async () => {
        // With no CHECK_TOKEN configured the bearer token is not asked for, and a sent one is no harm.
        const response = await post(company, endpoint, example, headers);
        expect(response.headers.get('x-request-id')).toBe(requestId);
        expect(response.headers.get('content-type')).toMatch(/^application\/json/);
        conforms(schemaOf[endpoint]!, response.body);
        check(response.body);
      });
    }
  });

  it('9.2 metadata of a tenant (a company), from PUBLIC_URL', async () => {
    const response = await api(pdp.url, 'GET', '/.well-known/authzen-configuration/accounts');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    conforms('metadata', response.body);
    const api1 = 'https://pdp.example.com/authzen/accounts/access/v1';
    expect(response.body).toEqual({
      policy_decision_point: 'https://pdp.example.com/accounts',
      access_evaluation_endpoint: `${api1}/evaluation`,
      access_evaluations_endpoint: `${api1}/evaluations`,
      search_subject_endpoint: `${api1}/search/subject`,
      search_resource_endpoint: `${api1}/search/resource`,
      search_action_endpoint: `${api1}/search/action`,
    });
    // RFC 8615, as 9.2 applies it: the well-known path inserted between the host and the identifier's path.
    const identifier = new URL(response.body.policy_decision_point);
    expect(`${identifier.origin}/.well-known/authzen-configuration${identifier.pathname}`).toBe('https://pdp.example.com/.well-known/authzen-configuration/accounts');
  });
});
