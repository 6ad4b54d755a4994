import { z } from 'zod';
import { displayName } from '../../http/text.js';
import { decodeCursorOf, encodeCursor, idSchema, pagingQuery, userIdSchema, versionSchema } from '../schemas.js';

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

/** The projects list's paging cursor: base64url of the page's last project id. */
export const encodeProjectCursor = encodeCursor;
export const decodeProjectCursor = (cursor: string): string | null => decodeCursorOf(cursor, (id) => idSchema.safeParse(id).success, 200);

export const PROJECT_PAGE_DEFAULT = 50;
export const PROJECT_PAGE_MAX = 500;

export const projectListQuery = pagingQuery(decodeProjectCursor, { default: PROJECT_PAGE_DEFAULT, max: PROJECT_PAGE_MAX });
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
