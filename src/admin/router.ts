import { Router } from 'express';
import type { Kysely } from 'kysely';
import type { Auth } from '../auth/auth.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Policies } from '../policy/catalog.js';
import type { Database } from '../store/schema.js';
import { createAuditRouter } from './audit.js';
import { createCompaniesRouter } from './companies.js';
import { createMembersRouter } from './members.js';
import { createProjectsRouter } from './projects.js';
import { createRolesRouter } from './roles.js';
import { createTeamsRouter } from './teams.js';

export interface AdminDeps {
  db: Kysely<Database>;
  policies: Policies;
  auth: Auth;
  /** Tells every instance a company's policy version changed; called after commit. */
  announce: (companyId: string, version: string) => Promise<void>;
  logger: Logger;
  metrics: Metrics;
}

export function createAdminRouter(deps: AdminDeps): Router {
  const router = Router();
  router.use(createCompaniesRouter(deps));
  router.use(createMembersRouter(deps));
  router.use(createRolesRouter(deps));
  router.use(createTeamsRouter(deps));
  router.use(createProjectsRouter(deps));
  router.use(createAuditRouter(deps));
  return router;
}
