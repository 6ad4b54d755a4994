import { Router } from 'express';
import type { AdminDeps } from './router.js';

export function createRolesRouter(_deps: AdminDeps): Router {
  return Router();
}
