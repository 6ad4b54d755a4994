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

export const userGrantView = z.object({ userId: userIdSchema, role: idSchema });
export const teamGrantView = z.object({ teamId: idSchema, role: idSchema });
export const userGrantWritten = userGrantView.extend({ version: versionSchema });
export const teamGrantWritten = teamGrantView.extend({ version: versionSchema });
export const projectMembers = z.object({ users: z.array(userGrantView), teams: z.array(teamGrantView) });
export type ProjectMembers = z.infer<typeof projectMembers>;
