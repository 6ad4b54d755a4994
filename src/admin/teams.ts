import { Router } from 'express';
import type { AdminDeps } from './router.js';

export function createTeamsRouter(_deps: AdminDeps): Router {
  return Router();
}
