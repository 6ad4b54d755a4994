// The API's shapes, taken from the server's own zod schemas (type-only: nothing of the
// server reaches the browser), so the console cannot drift from what the API answers.
import type { z } from 'zod';
import type { Catalog } from '../../src/policy/catalog.js';
import type { CheckSchemas } from '../../src/check/schemas.js';
import type { companyView, companyWritten } from '../../src/admin/companies/schemas.js';
import type { inviteBody, localUserBody, memberList, memberPatchBody, memberView, memberWritten } from '../../src/admin/members/schemas.js';
import type { rolesView, companyRoleView, projectRoleView } from '../../src/admin/roles/schemas.js';
import type { teamList, teamView } from '../../src/admin/teams/schemas.js';
import type { projectMembers, projectPage, projectView } from '../../src/admin/projects/schemas.js';
import type { auditEntry, auditPage } from '../../src/admin/audit/schemas.js';
import type { AccessSchemas } from '../../src/admin/access/schemas.js';

export type { Catalog };
export type Company = z.output<typeof companyView>;
export type CompanyWritten = z.output<typeof companyWritten>;
export type Member = z.output<typeof memberView>;
export type MemberWritten = z.output<typeof memberWritten>;
export type MemberList = z.output<typeof memberList>;
export type InviteInput = z.input<typeof inviteBody>;
export type LocalUserInput = z.input<typeof localUserBody>;
export type MemberPatch = z.input<typeof memberPatchBody>;
export type Roles = z.output<typeof rolesView>;
export type CompanyRole = z.output<typeof companyRoleView>;
export type ProjectRole = z.output<typeof projectRoleView>;
export type Permission = CompanyRole['permissions'][number];
export type Team = z.output<typeof teamView>;
export type TeamList = z.output<typeof teamList>;
export type Project = z.output<typeof projectView>;
export type ProjectMembers = z.output<typeof projectMembers>;
export type ProjectPage = z.output<typeof projectPage>;
export type AuditEntry = z.output<typeof auditEntry>;
export type AuditPage = z.output<typeof auditPage>;

type Schemas = CheckSchemas;
export type CheckQuestion = z.input<Schemas['batchBody']>['checks'][number];
export type CheckBody = z.input<Schemas['checkBody']>;
export type CheckAnswer = z.output<Schemas['checkAnswer']>;
export type BatchAnswer = z.output<Schemas['batchAnswer']>;
export type RulesAnswer = z.output<Schemas['rulesAnswer']>;
export type AccessibleAnswer = z.output<Schemas['accessibleAnswer']>;
export type ExplainBody = z.input<AccessSchemas['explainBody']>;

/** What /console/config.json says about this instance. */
export interface ConsoleConfig {
  tokenUrl: string | null;
  catalog: Catalog;
}
