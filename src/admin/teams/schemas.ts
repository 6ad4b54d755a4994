import { z } from 'zod';
import { displayName } from '../../http/text.js';
import { idSchema, userIdSchema, versionSchema } from '../schemas.js';

const teamName = displayName(200);

export const createTeamBody = z.strictObject({ id: idSchema.optional(), name: teamName });
export type CreateTeamInput = z.infer<typeof createTeamBody>;
export const renameTeamBody = z.strictObject({ name: teamName });

export const teamParams = z.strictObject({ company: idSchema, teamId: idSchema });
export const teamMemberParams = z.strictObject({ company: idSchema, teamId: idSchema, userId: userIdSchema });

/** A team with its members' user ids, sorted. */
export const teamView = z.object({ id: idSchema, name: z.string(), members: z.array(userIdSchema) });
export type TeamView = z.infer<typeof teamView>;
export const teamWritten = teamView.extend({ version: versionSchema });
export const teamList = z.object({ teams: z.array(teamView) });
