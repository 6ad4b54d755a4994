import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedCompany } from './seed.js';

type Resource = { type: string; id?: string; attributes?: Record<string, string> };

describe.skipIf(!servicesUp)('check API decisions (D-rules)', () => {
  let env: TestEnvironment;
  let instance: TestApp;

  const check = async (company: string, user: string, action: string, resource: Resource, field?: string) => {
    const response = await api(instance.url, 'POST', '/v1/check', { company, principal: { id: user }, action, resource, ...(field ? { field } : {}) });
    expect(response.status).toBe(200);
    return response.body as { allowed: boolean; reason: string; version: string };
  };
  const allowed = async (...args: Parameters<typeof check>) => (await check(...args)).allowed;

  beforeAll(async () => {
    env = await createTestEnvironment();
    instance = await env.start();
    const { db } = instance.app.store;
    const policies = instance.app.policies;
    await seedCompany(db, policies, {
      id: 'acme',
      members: [
        { id: 'owner', role: 'admin', owner: true },
        { id: 'admin2', role: 'admin' },
        { id: 'admin-app', role: 'admin', applicationAccess: true },
        { id: 'manager', role: 'manager' },
        { id: 'editor', role: 'editor' },
        { id: 'collab', role: 'collaborator', developerAccess: true },
        { id: 'teamie', role: 'collaborator' },
        { id: 'gone', role: 'admin', status: 'inactive', applicationAccess: true },
        { id: 'invitee', role: 'manager', status: 'invited' },
        { id: 'both', role: 'collaborator' },
      ],
      teams: [{ id: 'design', members: ['teamie', 'both'] }],
      projects: ['p1', 'p2', 'p3'],
      grants: [
        { project: 'p1', role: 'contributor', user: 'collab' },
        { project: 'p2', role: 'viewer', team: 'design' },
        { project: 'p1', role: 'project-admin', user: 'gone' },
        { project: 'p2', role: 'contributor', user: 'both' },
      ],
    });
    await seedCompany(db, policies, {
      id: 'globex',
      members: [
        { id: 'collab', role: 'admin', owner: true, applicationAccess: true },
        { id: 'editor', role: 'collaborator' },
      ],
      projects: ['p1'],
      grants: [{ project: 'p1', role: 'project-admin', user: 'editor' }],
    });
  });
  afterAll(() => env?.close());

  it('D8: an editor views settings but not the subscription section', async () => {
    expect(await check('acme', 'editor', 'view', { type: 'CompanySettings' }, 'general')).toEqual({
      allowed: true,
      reason: 'company role editor allows view CompanySettings',
      version: '1',
    });
    expect(await check('acme', 'editor', 'view', { type: 'CompanySettings' }, 'subscription')).toEqual({
      allowed: false,
      reason: 'company role editor forbids view CompanySettings (subscription)',
      version: '1',
    });
    expect(await allowed('acme', 'editor', 'edit', { type: 'CompanySettings' }, 'general')).toBe(false);
  });

  it('D8: a manager edits branding and nothing else in settings', async () => {
    expect(await check('acme', 'manager', 'edit', { type: 'CompanySettings' }, 'branding')).toMatchObject({
      allowed: true,
      reason: 'company role manager allows edit CompanySettings (branding)',
    });
    for (const field of ['general', 'subscription', 'payments', 'domains', 'notifications', 'support']) {
      expect(await allowed('acme', 'manager', 'edit', { type: 'CompanySettings' }, field), field).toBe(false);
    }
    expect(await allowed('acme', 'manager', 'view', { type: 'CompanySettings' }, 'subscription')).toBe(true);
  });

  it('D8, D17: a collaborator sees only projects granted to them or their team', async () => {
    expect(await check('acme', 'collab', 'view', { type: 'Project', id: 'p1' })).toMatchObject({
      allowed: true,
      reason: 'project membership on project p1 allows view Project',
    });
    expect(await allowed('acme', 'collab', 'view', { type: 'Project', id: 'p2' })).toBe(false);
    expect(await allowed('acme', 'teamie', 'view', { type: 'Project', id: 'p2' })).toBe(true);
    expect(await check('acme', 'teamie', 'view', { type: 'Scenario', attributes: { projectId: 'p2' } })).toMatchObject({
      allowed: true,
      reason: 'role viewer via team design on project p2 allows view Scenario',
    });
    expect(await allowed('acme', 'teamie', 'view', { type: 'Project', id: 'p1' })).toBe(false);
    expect(await allowed('acme', 'collab', 'view', { type: 'CompanySettings' })).toBe(false);
  });

  it('a collaborator granted one project is denied view Project naming no project or another one', async () => {
    expect(await check('acme', 'collab', 'view', { type: 'Project' })).toEqual({ allowed: false, reason: 'Project checks need resource.id; none was given', version: '1' });
    // Issue 18: the deny says what decided, not only that no rule allowed.
    expect(await check('acme', 'collab', 'view', { type: 'Scenario' })).toEqual({ allowed: false, reason: 'Scenario checks need resource.attributes.projectId; none was given', version: '1' });
    expect(await check('acme', 'collab', 'view', { type: 'Scenario', attributes: { projectid: 'p1' } as never })).toMatchObject({ allowed: false, reason: 'Scenario checks need resource.attributes.projectId; none was given' });
    expect(await check('acme', 'collab', 'delete', { type: 'Scenario', attributes: { projectId: 'p9' } })).toMatchObject({ allowed: false, reason: 'project p9 is not registered in acme' });
    expect(await allowed('acme', 'collab', 'view', { type: 'Project', id: 'p3' })).toBe(false);
    expect(await allowed('acme', 'collab', 'view', { type: 'Scenario' })).toBe(false);
    expect(await allowed('acme', 'collab', 'view', { type: 'Scenario', attributes: { projectId: 'p3' } })).toBe(false);
    expect(await allowed('acme', 'collab', 'edit', { type: 'Scenario', attributes: { projectId: 'p1' } })).toBe(true);
  });

  it('D17: a user with several roles on a project has the union', async () => {
    // "both" is a viewer on p2 through the team and a contributor directly.
    expect(await allowed('acme', 'both', 'edit', { type: 'Scenario', attributes: { projectId: 'p2' } })).toBe(true);
    expect(await allowed('acme', 'both', 'view', { type: 'ProjectInformation', attributes: { projectId: 'p2' } })).toBe(true);
    expect(await allowed('acme', 'both', 'delete', { type: 'Scenario', attributes: { projectId: 'p2' } })).toBe(false);
  });

  it('D12, D13: an admin without application access cannot use the Application', async () => {
    expect(await check('acme', 'admin2', 'use', { type: 'Application' })).toMatchObject({ allowed: false, reason: 'no rule allows use Application' });
    expect(await check('acme', 'admin-app', 'use', { type: 'Application' })).toMatchObject({
      allowed: true,
      reason: 'application access allows use Application',
    });
    expect(await allowed('acme', 'collab', 'use', { type: 'Builder' })).toBe(true);
    expect(await allowed('acme', 'collab', 'use', { type: 'Application' })).toBe(false);
  });

  it('D10: the owner can delete the company, an admin who is not the owner cannot', async () => {
    expect(await check('acme', 'owner', 'delete', { type: 'Company' })).toMatchObject({ allowed: true, reason: 'owner tag allows delete Company' });
    expect(await allowed('acme', 'admin2', 'delete', { type: 'Company' })).toBe(false);
  });

  it('D18: admins manage every project but need a project role for scenarios', async () => {
    expect(await allowed('acme', 'admin2', 'delete', { type: 'Project', id: 'p3' })).toBe(true);
    expect(await allowed('acme', 'admin2', 'invite', { type: 'ProjectMember', attributes: { projectId: 'p3' } })).toBe(true);
    expect(await allowed('acme', 'admin2', 'edit', { type: 'Scenario', attributes: { projectId: 'p3' } })).toBe(false);
    expect(await allowed('acme', 'editor', 'view', { type: 'Project', id: 'p3' })).toBe(true);
    expect(await allowed('acme', 'editor', 'edit', { type: 'Project', id: 'p3' })).toBe(false);
  });

  it('D6: inactive and invited members are denied everything', async () => {
    for (const [action, resource] of [
      ['view', { type: 'CompanySettings' }],
      ['use', { type: 'Application' }],
      ['view', { type: 'Project', id: 'p1' }],
      ['edit', { type: 'Scenario', attributes: { projectId: 'p1' } }],
      ['create', { type: 'Project' }],
    ] as Array<[string, Resource]>) {
      expect(await check('acme', 'gone', action, resource)).toMatchObject({ allowed: false, reason: 'gone is not an active member of acme (inactive)' });
      expect(await check('acme', 'invitee', action, resource)).toMatchObject({ allowed: false, reason: 'invitee is not an active member of acme (invited)' });
    }
  });

  it('D1: nothing in company A is granted by a role in company B', async () => {
    // "collab" is the owner and an admin with application access in globex, a collaborator in acme.
    expect(await allowed('globex', 'collab', 'use', { type: 'Application' })).toBe(true);
    expect(await allowed('acme', 'collab', 'use', { type: 'Application' })).toBe(false);
    expect(await allowed('acme', 'collab', 'delete', { type: 'Company' })).toBe(false);
    expect(await allowed('acme', 'collab', 'view', { type: 'Project', id: 'p3' })).toBe(false);
    // "editor" is project-admin of globex's p1; acme has a p1 too.
    expect(await allowed('globex', 'editor', 'delete', { type: 'Scenario', attributes: { projectId: 'p1' } })).toBe(true);
    expect(await allowed('acme', 'editor', 'delete', { type: 'Scenario', attributes: { projectId: 'p1' } })).toBe(false);
  });

  it('D20: unknown company or user is a deny, not an error', async () => {
    expect(await check('no-such-company', 'owner', 'view', { type: 'CompanySettings' })).toEqual({
      allowed: false,
      reason: 'company no-such-company is not known',
      version: '0',
    });
    expect(await check('acme', 'stranger', 'view', { type: 'Project', id: 'p1' })).toEqual({
      allowed: false,
      reason: 'stranger is not a member of acme',
      version: '1',
    });
  });

  it('batch answers in request order with one version', async () => {
    const response = await api(instance.url, 'POST', '/v1/check/batch', {
      company: 'acme',
      principal: { id: 'collab' },
      checks: [
        { action: 'view', resource: { type: 'Project', id: 'p1' } },
        { action: 'view', resource: { type: 'Project', id: 'p2' } },
        { action: 'edit', resource: { type: 'Scenario', attributes: { projectId: 'p1' } } },
      ],
    });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      version: '1',
      results: [
        { allowed: true, reason: 'project membership on project p1 allows view Project' },
        { allowed: false, reason: 'no rule allows view Project' },
        { allowed: true, reason: 'role contributor on project p1 allows edit Scenario' },
      ],
    });
  });
});
