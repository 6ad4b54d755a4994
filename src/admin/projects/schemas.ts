import { z } from 'zod';
import { displayName } from '../../http/text.js';
import { idSchema, userIdSchema, versionSchema } from '../schemas.js';

const projectName = displayName(200);

export const registerProjectBody = z.strictObject({
  name: projectName,
  /** Who gets project-admin on a new project (D15); the caller when absent. Ignored for a project already registered. */
  creatorId: userIdSchema.optional(),
});
export type RegisterProjectInput = z.infer<typeof registerProjectBody>;

export const grantBody = z.strictObject({ role: idSchema.describe('a project role key of the company') });

export const projectParams = z.strictObject({ company: idSchema, projectId: idSchema });
export const projectUserParams = z.strictObject({ company: idSchema, projectId: idSchema, userId: userIdSchema });
export const projectTeamParams = z.strictObject({ company: idSchema, projectId: idSchema, teamId: idSchema });

export const projectView = z.object({ id: idSchema, name: z.string(), createdBy: userIdSchema.nullable(), createdAt: z.string() });
export type ProjectView = z.infer<typeof projectView>;
export const projectWritten = projectView.extend({ version: versionSchema });

/**
 * The projects list's paging cursor: base64url of the last project id of the page, opaque to
 * clients; decoded strictly (only what encodeProjectCursor produces), so a mangled cursor is a 400.
 */
export const encodeProjectCursor = (id: string): string => Buffer.from(id, 'utf8').toString('base64url');

export function decodeProjectCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return null;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  return idSchema.safeParse(id).success && encodeProjectCursor(id) === cursor ? id : null;
}

export const PROJECT_PAGE_DEFAULT = 50;
export const PROJECT_PAGE_MAX = 500;

export const projectListQuery = z.strictObject({
  after: z.string().refine((cursor) => decodeProjectCursor(cursor) !== null, 'must be the "next" cursor of a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(PROJECT_PAGE_MAX).default(PROJECT_PAGE_DEFAULT),
});
export type ProjectListQuery = z.infer<typeof projectListQuery>;

export const projectListItem = projectView.extend({
  memberCount: z.number().int().describe('users granted a role on the project directly'),
  teamCount: z.number().int().describe('teams granted a role on the project'),
});
export type ProjectListItem = z.infer<typeof projectListItem>;
export const projectPage = z.object({
  projects: z.array(projectListItem).describe('in project id order'),
  next: z.string().nullable().describe('pass as ?after= for the next page; null on the last page'),
});
export type ProjectPage = z.infer<typeof projectPage>;

export const userGrantView = z.object({ userId: userIdSchema, role: idSchema });
export const teamGrantView = z.object({ teamId: idSchema, role: idSchema });
export const userGrantWritten = userGrantView.extend({ version: versionSchema });
export const teamGrantWritten = teamGrantView.extend({ version: versionSchema });
export const projectMembers = z.object({ users: z.array(userGrantView), teams: z.array(teamGrantView) });
export type ProjectMembers = z.infer<typeof projectMembers>;
