import { Router } from 'express';
import type { AdminDeps } from './router.js';

export function createProjectsRouter(_deps: AdminDeps): Router {
  return Router();
}
