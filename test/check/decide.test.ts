import { describe, expect, it } from 'vitest';
import { createCheckAbility } from '../../src/check/abilities.js';
import { decide, type CheckQuestion } from '../../src/check/decide.js';
import { loadPolicies } from '../../src/policy/catalog.js';
import { compileStoredPrincipal } from '../../src/policy/compiler.js';

const policies = loadPolicies();
const { catalog } = policies;
const membership = (role: 'admin' | 'editor') => ({ status: 'active' as const, role, owner: false, applicationAccess: false, developerAccess: false });
const editor = createCheckAbility(compileStoredPrincipal(policies, { membership: membership('editor'), companyRolePermissions: null, projectGrants: [] }));
const admin = createCheckAbility(compileStoredPrincipal(policies, { membership: membership('admin'), companyRolePermissions: null, projectGrants: [] }));
const registered: ReadonlySet<string> = new Set(['p1']);

const viewProject = (id: string | undefined): CheckQuestion => ({ action: 'view', resource: { type: 'Project', ...(id === undefined ? {} : { id }) } });
const inviteTo = (projectId: unknown): CheckQuestion => ({ action: 'invite', resource: { type: 'ProjectMember', attributes: { projectId } } });

/** D15 in decide(): an allow on a project-scoped subject stands only for a registered project. */
describe('decide: registered projects', () => {
  it('an allowing rule stands for a registered project only, and a question naming none is refused', () => {
    expect(decide(catalog, editor, registered, viewProject('p1'))).toEqual({ allowed: true, reason: 'company role editor allows view Project' });
    expect(decide(catalog, editor, registered, viewProject('p2'))).toEqual({ allowed: false, reason: 'project p2 is not registered in the company' });
    expect(decide(catalog, editor, registered, viewProject(undefined))).toEqual({ allowed: false, reason: 'Project checks need resource.id; none was given' });
    expect(decide(catalog, admin, registered, { action: 'invite', resource: { type: 'ProjectMember' } })).toEqual({
      allowed: false,
      reason: 'ProjectMember checks need resource.attributes.projectId; none was given',
    });
  });

  it('creating a project is the one question about a project not registered yet', () => {
    expect(decide(catalog, admin, registered, { action: 'create', resource: { type: 'Project', id: 'p-new' } })).toMatchObject({ allowed: true });
    expect(decide(catalog, admin, registered, { action: 'create', resource: { type: 'Project' } })).toMatchObject({ allowed: true });
    expect(decide(catalog, admin, registered, { action: 'delete', resource: { type: 'Project', id: 'p-new' } })).toMatchObject({ allowed: false });
  });

  it('names a project that cannot be an id as error messages name client input: bounded, never String() of it', () => {
    const long = 'x'.repeat(5000);
    const answer = decide(catalog, admin, registered, inviteTo(long));
    expect(answer).toEqual({ allowed: false, reason: `project "${'x'.repeat(64)}…" is not registered in the company` });
    expect(decide(catalog, admin, registered, inviteTo(7)).reason).toBe('project number 7 is not registered in the company');
    expect(decide(catalog, admin, registered, inviteTo('p 1')).reason).toBe('project "p 1" is not registered in the company');
  });
});
