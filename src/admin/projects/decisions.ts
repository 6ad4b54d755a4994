/** Pure decisions of the projects service; the service does the I/O around them. */

export type RegisterStep = 'create' | 'unchanged' | 'rename';

/** What a `PUT /projects/{id}` does: registering is idempotent, so only a new name is a change. */
export function registerStep(existing: { name: string } | undefined, name: string): RegisterStep {
  if (!existing) return 'create';
  return existing.name === name ? 'unchanged' : 'rename';
}

export type GrantStep = 'invite' | 'edit' | 'unchanged';

/** What putting `role` on a grantee does, and so which `ProjectMember` action it needs. */
export function grantStep(currentRole: string | null, role: string): GrantStep {
  if (currentRole === null) return 'invite';
  return currentRole === role ? 'unchanged' : 'edit';
}

/**
 * The roles whose permissions a non-admin caller must hold on the project for a grant
 * write: the role handed out, and the role taken away. Without the second, someone
 * allowed to edit or remove project members could demote or remove a project admin
 * whose powers they do not have.
 */
export function rolesToHold(currentRole: string | null, newRole: string | null): string[] {
  return [...new Set([currentRole, newRole].filter((role): role is string => role !== null))];
}

export type GranteeKind = 'user' | 'team';
export interface Grantee {
  kind: GranteeKind;
  id: string;
}

export const projectTarget = (projectId: string) => `project:${projectId}`;
// The grantee's id comes last and the project id ([A-Za-z0-9._:@-]) holds no '/', so a target
// reads back unambiguously whatever characters a user id holds.
export const grantTarget = (projectId: string, grantee: Grantee) => `grant:${projectId}/${grantee.kind}:${grantee.id}`;
