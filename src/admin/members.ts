import { Router } from 'express';
import type { AdminDeps } from './router.js';

export function createMembersRouter(_deps: AdminDeps): Router {
  return Router();
}
