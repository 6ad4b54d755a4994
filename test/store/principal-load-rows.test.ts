import { describe, expect, it } from 'vitest';
import { principalFromRow, type PrincipalLoadRow } from '../../src/store/principal-facts.js';

const row = (grants: unknown, roles: PrincipalLoadRow['roles']): PrincipalLoadRow => ({
  version: '3',
  status: 'active',
  role: 'collaborator',
  owner: false,
  application_access: false,
  developer_access: false,
  role_permissions: [],
  grants: grants as PrincipalLoadRow['grants'],
  roles,
  project_ids: null,
});
const viewer = [{ action: 'view', subject: 'Project' }];

describe('the load statement row read into facts', () => {
  it('expands each role and path group into its grants, in the order the statement gives', () => {
    const loaded = principalFromRow(row([['viewer', null, ['p1', 'p3']], ['viewer', 't1', ['p2']]], { viewer }), {});
    expect(loaded.projectGrants).toEqual([
      { projectId: 'p1', roleKey: 'viewer', teamId: null, permissions: viewer },
      { projectId: 'p3', roleKey: 'viewer', teamId: null, permissions: viewer },
      { projectId: 'p2', roleKey: 'viewer', teamId: 't1', permissions: viewer },
    ]);
  });

  it('refuses rows of the per-grant shape an older statement returned, rather than read a team id as projects', () => {
    // [project id, role key, team id]: an instance of the previous version preparing the statement's old name on a shared connection.
    expect(() => principalFromRow(row([['p1', 'viewer', 'team-1']], { viewer }), {})).toThrow(/unexpected shape/);
    expect(() => principalFromRow(row([['p1', 'viewer', null]], { viewer }), {})).toThrow(/unexpected shape/);
  });

  it('a grant of a role the row does not hold decides nothing, whatever its key is called', () => {
    // Object.prototype has a `constructor`: looked up as a plain property it would be taken for the role's permissions.
    const loaded = principalFromRow(row([['constructor', null, ['p1']], ['toString', null, ['p2']], ['viewer', null, ['p3']]], { viewer }), {});
    expect(loaded.projectGrants).toEqual([{ projectId: 'p3', roleKey: 'viewer', teamId: null, permissions: viewer }]);
  });
});
