import { Router } from 'express';
import type { AdminDeps } from './router.js';

export function createAuditRouter(_deps: AdminDeps): Router {
  return Router();
}
