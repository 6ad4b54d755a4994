import { Router } from 'express';
import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Policies } from '../policy/catalog.js';
import type { Database } from '../store/schema.js';
import type { Auth } from '../auth/auth.js';

export interface AdminDeps {
  db: Kysely<Database>;
  policies: Policies;
  auth: Auth;
  /** Tells every instance a company's policy version changed; called after commit. */
  announce: (companyId: string, version: string) => Promise<void>;
  logger: Logger;
  metrics: Metrics;
}

export function createAdminRouter(_deps: AdminDeps): Router {
  return Router();
}
