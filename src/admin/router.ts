import { Router } from 'express';
import type { Kysely } from 'kysely';
import type { Auth } from '../auth/auth.js';
import type { HashQueue } from '../auth/hash-queue.js';
import { createOperatorGuard } from '../http/operator-token.js';
import { mountRoutes, type Route } from '../http/route.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Policies } from '../policy/catalog.js';
import type { Database } from '../store/schema.js';
import { meRoutes } from './me/routes.js';
import type { InvitationSettings } from './members/service.js';
import type { EventSink } from './transaction.js';
import { accessRoutes } from './access/routes.js';
import type { CheckDecider } from './access/service.js';
import { auditRoutes } from './audit/routes.js';
import { companiesRoutes } from './companies/routes.js';
import { authenticate } from './context.js';
import { membersRoutes } from './members/routes.js';
import { projectsRoutes } from './projects/routes.js';
import { rolesRoutes } from './roles/routes.js';
import { teamsRoutes } from './teams/routes.js';

export interface AdminDeps {
  db: Kysely<Database>;
  policies: Policies;
  auth: Auth;
  /** Tells every instance a company's policy version changed; called after commit. */
  announce: (companyId: string, version: string) => Promise<void>;
  logger: Logger;
  metrics: Metrics;
  /** The instance's one line for scrypt work, shared with logins. */
  hashing: HashQueue;
  invitations: InvitationSettings;
  /** The webhook outbox, when WEBHOOK_URL is configured. */
  events?: EventSink | undefined;
  /** The check API's decision (its service, narrowed), for the access explain endpoint. */
  decide: CheckDecider;
}

/** Every admin endpoint, as data: mounted below and described by the OpenAPI document. */
export function adminRoutes(deps: AdminDeps): Route[] {
  return [
    ...meRoutes(deps),
    ...companiesRoutes(deps),
    ...membersRoutes(deps),
    ...rolesRoutes(deps),
    ...teamsRoutes(deps),
    ...projectsRoutes(deps),
    ...auditRoutes(deps),
    ...accessRoutes(deps),
  ];
}

export function createAdminRouter(routes: readonly Route[], deps: Pick<AdminDeps, 'auth' | 'metrics'> & { operatorToken: string | undefined }): Router {
  const router = Router();
  mountRoutes(router, routes, {
    authenticate: (req) => authenticate(deps.auth, req),
    isOperator: createOperatorGuard(deps.operatorToken),
    onWrite: (route, status) => deps.metrics.adminWrites.inc({ route: `${route.method.toUpperCase()} ${route.path}`, status: `${Math.floor(status / 100)}xx` }),
  });
  return router;
}
