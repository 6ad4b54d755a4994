import { createMongoAbility, subject } from '@casl/ability';
import { unpackRules, type PackRule } from '@casl/ability/extra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedCompany } from './seed.js';

const base = { company: 'acme', principal: { id: 'collab' } };

describe.skipIf(!servicesUp)('check API contract', () => {
  let env: TestEnvironment;
  let instance: TestApp;
  let guarded: TestApp;

  beforeAll(async () => {
    env = await createTestEnvironment();
    instance = await env.start();
    guarded = await env.start({ CHECK_TOKEN: 'check-token-0123456789' });
    await seedCompany(instance.app.store.db, instance.app.policies, {
      id: 'acme',
      members: [
        { id: 'collab', role: 'collaborator', applicationAccess: true },
        { id: 'editor', role: 'editor' },
        { id: 'admin', role: 'admin', owner: true },
        { id: 'custom', role: 'manager' },
      ],
      teams: [{ id: 'ops', members: ['collab'] }],
      projects: ['p1', 'p2', 'p3'],
      companyRoles: { manager: [{ action: 'view', subject: 'Scenario' }, { action: 'view', subject: 'Scenario', inverted: true, fields: undefined }] },
      grants: [
        { project: 'p1', role: 'contributor', user: 'collab' },
        { project: 'p3', role: 'viewer', team: 'ops' },
      ],
    });
  });
  afterAll(() => env?.close());

  describe('bad input is a 400 with invalid_request, never a decision', () => {
    const cases: Array<[string, unknown, string]> = [
      ['action outside the catalog', { ...base, action: 'fly', resource: { type: 'Project', id: 'p1' } }, 'action'],
      ['action of another subject', { ...base, action: 'use', resource: { type: 'Project', id: 'p1' } }, 'action'],
      ['resource type outside the catalog', { ...base, action: 'view', resource: { type: 'Invoice' } }, 'resource.type'],
      ['field outside the catalog', { ...base, action: 'view', resource: { type: 'CompanySettings' }, field: 'logo' }, 'field'],
      ['field on a subject without fields', { ...base, action: 'view', resource: { type: 'Project', id: 'p1' }, field: 'general' }, 'field'],
      ['unknown top-level field', { ...base, action: 'view', resource: { type: 'Project', id: 'p1' }, extra: 1 }, 'extra'],
      ['unknown resource field', { ...base, action: 'view', resource: { type: 'Project', id: 'p1', owner: 'x' } }, 'resource.owner'],
      ['missing principal', { company: 'acme', action: 'view', resource: { type: 'Project' } }, 'principal'],
      ['principal with id and token', { company: 'acme', principal: { id: 'a', token: 'b' }, action: 'view', resource: { type: 'Project' } }, 'principal'],
      ['bad company id', { ...base, company: 'a b', action: 'view', resource: { type: 'Project' } }, 'company'],
      ['bad minVersion', { ...base, action: 'view', resource: { type: 'Project' }, consistency: { minVersion: 7 } }, 'consistency.minVersion'],
      ['object attribute value', { ...base, action: 'view', resource: { type: 'Scenario', attributes: { projectId: { $ne: 'x' } } } }, 'resource.attributes.projectId'],
    ];
    for (const [name, body, path] of cases) {
      it(name, async () => {
        const response = await api(instance.url, 'POST', '/v1/check', body);
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('invalid_request');
        expect(response.body.error.details).toEqual({ path });
      });
    }

    it('malformed JSON', async () => {
      const response = await api(instance.url, 'POST', '/v1/check', '{"company": ');
      expect(response).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', message: 'the body is not valid JSON' } } });
    });

    it('a body over 1 MiB is 413 payload_too_large', async () => {
      const response = await api(instance.url, 'POST', '/v1/check/batch', { ...base, checks: [], padding: 'x'.repeat(1024 * 1024 + 10) });
      expect(response.status).toBe(413);
      expect(response.body.error.code).toBe('payload_too_large');
    });

    it('a batch of 0 or 1001 checks', async () => {
      const one = { action: 'view', resource: { type: 'Project', id: 'p1' } };
      for (const checks of [[], Array.from({ length: 1001 }, () => one)]) {
        const response = await api(instance.url, 'POST', '/v1/check/batch', { ...base, checks });
        expect(response.status).toBe(400);
        expect(response.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'checks' } });
      }
      const bad = await api(instance.url, 'POST', '/v1/check/batch', { ...base, checks: [one, { action: 'fly', resource: { type: 'Project' } }] });
      expect(bad.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'checks.1.action' } });
    });

    it('a batch of 1000 checks is answered', async () => {
      const checks = Array.from({ length: 1000 }, (_, i) => ({ action: 'view', resource: { type: 'Project', id: `p${(i % 3) + 1}` } }));
      const response = await api(instance.url, 'POST', '/v1/check/batch', { ...base, checks });
      expect(response.status).toBe(200);
      expect(response.body.results).toHaveLength(1000);
      expect(response.body.results.slice(0, 3).map((r: { allowed: boolean }) => r.allowed)).toEqual([true, false, true]);
    });
  });

  describe('CHECK_TOKEN service authentication', () => {
    const body = { ...base, action: 'view', resource: { type: 'Project', id: 'p1' } };
    it('refuses a check without the token with 401 unauthenticated, naming the credential (not the principal) as refused', async () => {
      for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }] as Array<Record<string, string>>) {
        const response = await api(guarded.url, 'POST', '/v1/check', body, headers);
        expect(response.status).toBe(401);
        expect(response.body.error).toMatchObject({ code: 'unauthenticated', details: { credential: 'check_token' } });
        // RFC 9110: a 401 names the scheme that would be accepted.
        expect(response.headers.get('www-authenticate')).toBe('Bearer');
      }
      const rules = await api(guarded.url, 'GET', '/v1/companies/acme/principals/collab/rules');
      expect(rules.status).toBe(401);
      expect(rules.body.error.details).toEqual({ credential: 'check_token' });
      expect(rules.headers.get('www-authenticate')).toBe('Bearer');
      const accessible = await api(guarded.url, 'POST', '/v1/accessible', { ...base, action: 'view', resourceType: 'Project' });
      expect(accessible.status).toBe(401);
      expect(accessible.body.error.details).toEqual({ credential: 'check_token' });
    });
    it('answers with the token', async () => {
      const response = await api(guarded.url, 'POST', '/v1/check', body, { authorization: 'Bearer check-token-0123456789' });
      expect(response).toMatchObject({ status: 200, body: { allowed: true } });
    });
  });

  describe('answers written in batches (write-batch.ts)', () => {
    it('many checks arriving together each get their own decision and request id', async () => {
      // collab may view p1 (own grant) and p3 (team grant) but not p2; editor views every project.
      const questions = [
        { principal: 'collab', project: 'p1', allowed: true },
        { principal: 'collab', project: 'p2', allowed: false },
        { principal: 'collab', project: 'p3', allowed: true },
        { principal: 'editor', project: 'p2', allowed: true },
      ];
      const sent = Array.from({ length: 64 }, (_, i) => ({ ...questions[i % questions.length]!, requestId: `batch-${i}` }));
      const answers = await Promise.all(
        sent.map((q) =>
          api(instance.url, 'POST', '/v1/check', { company: 'acme', principal: { id: q.principal }, action: 'view', resource: { type: 'Project', id: q.project } }, { 'x-request-id': q.requestId }),
        ),
      );
      expect(answers.map((a) => [a.status, a.headers.get('x-request-id'), a.body.allowed])).toEqual(sent.map((q) => [200, q.requestId, q.allowed]));
    });
  });

  describe('rules export: a stock CASL ability agrees with /v1/check', () => {
    const table: Array<[string, string, { type: string; id?: string; attributes?: Record<string, string> }, string?]> = [
      ['collab', 'view', { type: 'Project', id: 'p1' }],
      ['collab', 'view', { type: 'Project', id: 'p2' }],
      ['collab', 'view', { type: 'Project', id: 'p3' }],
      ['collab', 'view', { type: 'Project' }],
      ['collab', 'edit', { type: 'Scenario', attributes: { projectId: 'p1' } }],
      ['collab', 'edit', { type: 'Scenario', attributes: { projectId: 'p3' } }],
      ['collab', 'view', { type: 'Scenario', attributes: { projectId: 'p3' } }],
      ['collab', 'use', { type: 'Application' }],
      ['editor', 'view', { type: 'CompanySettings' }, 'subscription'],
      ['editor', 'view', { type: 'CompanySettings' }, 'general'],
      ['editor', 'view', { type: 'Project', id: 'p2' }],
      ['admin', 'delete', { type: 'Company' }],
      ['admin', 'delete', { type: 'Project', id: 'p2' }],
      ['admin', 'edit', { type: 'Scenario', attributes: { projectId: 'p2' } }],
      ['custom', 'view', { type: 'Scenario', attributes: { projectId: 'p2' } }],
    ];
    for (const [user, action, resource, field] of table) {
      it(`${user} ${action} ${resource.type} ${resource.id ?? resource.attributes?.projectId ?? ''} ${field ?? ''}`, async () => {
        const decision = await api(instance.url, 'POST', '/v1/check', { company: 'acme', principal: { id: user }, action, resource, ...(field ? { field } : {}) });
        const raw = await api(instance.url, 'GET', `/v1/companies/acme/principals/${user}/rules`);
        const packed = await api(instance.url, 'GET', `/v1/companies/acme/principals/${user}/rules?format=packed`);
        expect(raw.status).toBe(200);
        expect(raw.body.version).toBe(decision.body.version);
        const object = subject(resource.type, { ...resource.attributes, ...(resource.id ? { id: resource.id } : {}) });
        expect(createMongoAbility(raw.body.rules).can(action, object, field)).toBe(decision.body.allowed);
        expect(createMongoAbility(unpackRules(packed.body.rules as PackRule<never>[])).can(action, object, field)).toBe(decision.body.allowed);
      });
    }

    it('groups 5,000 project grants into a handful of rules', async () => {
      const projects = Array.from({ length: 5000 }, (_, i) => `bulk-${i}`);
      // A company of its own: projects and grants written behind acme's back would not move acme's version.
      await seedCompany(instance.app.store.db, instance.app.policies, {
        id: 'bulkco',
        members: [{ id: 'bulk', role: 'collaborator' }],
        projects,
        grants: projects.map((project) => ({ project, role: 'contributor', user: 'bulk' })),
      });
      const rules = await api(instance.url, 'GET', '/v1/companies/bulkco/principals/bulk/rules');
      expect(rules.body.rules).toHaveLength(5);
      expect(rules.body.rules[1]).toEqual({
        action: 'create',
        subject: 'Scenario',
        conditions: { projectId: { $in: [...projects].sort() } },
        reason: 'role contributor on project {projectId} allows create Scenario',
      });
      const check = await api(instance.url, 'POST', '/v1/check', { company: 'bulkco', principal: { id: 'bulk' }, action: 'edit', resource: { type: 'Scenario', attributes: { projectId: 'bulk-4999' } } });
      expect(check.body).toMatchObject({ allowed: true, reason: 'role contributor on project bulk-4999 allows edit Scenario' });
    });

    it('refuses a bad format', async () => {
      const response = await api(instance.url, 'GET', '/v1/companies/acme/principals/collab/rules?format=xml');
      expect(response).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    });
  });

  describe('accessible resources', () => {
    const accessible = (principal: string, action: string, resourceType: string) =>
      api(instance.url, 'POST', '/v1/accessible', { company: 'acme', principal: { id: principal }, action, resourceType });

    it('a collaborator gets the ids of their projects', async () => {
      expect((await accessible('collab', 'view', 'Project')).body).toEqual({ version: '1', kind: 'some', ids: ['p1', 'p3'] });
      expect((await accessible('collab', 'edit', 'Project')).body).toEqual({ version: '1', kind: 'none' });
    });
    it('an editor sees every registered project, an admin may delete each of them and create any (D15)', async () => {
      expect((await accessible('editor', 'view', 'Project')).body).toEqual({ version: '1', kind: 'some', ids: ['p1', 'p2', 'p3'] });
      expect((await accessible('admin', 'delete', 'Project')).body).toEqual({ version: '1', kind: 'some', ids: ['p1', 'p2', 'p3'] });
      expect((await accessible('admin', 'create', 'Project')).body).toEqual({ version: '1', kind: 'all' });
    });
    it('Scenario-like types answer with a condition tree', async () => {
      expect((await accessible('collab', 'edit', 'Scenario')).body).toEqual({ version: '1', kind: 'conditional', filter: { projectId: { $in: ['p1'] } } });
      expect((await accessible('collab', 'view', 'Scenario')).body).toEqual({
        version: '1',
        kind: 'conditional',
        filter: { $or: [{ projectId: { $in: ['p3'] } }, { projectId: { $in: ['p1'] } }] },
      });
      expect((await accessible('editor', 'view', 'Scenario')).body).toEqual({ version: '1', kind: 'none' });
    });
    it('an inverted rule takes back what its role granted', async () => {
      expect((await accessible('custom', 'view', 'Scenario')).body).toEqual({ version: '1', kind: 'none' });
    });
    it('refuses a type or action outside the catalog', async () => {
      expect((await accessible('collab', 'view', 'Invoice')).status).toBe(400);
      expect((await accessible('collab', 'fly', 'Project')).body.error.code).toBe('invalid_request');
    });
  });
});
