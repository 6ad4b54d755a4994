import { Router } from 'express';
import type { AdminDeps } from './router.js';

export function createCompaniesRouter(_deps: AdminDeps): Router {
  return Router();
}
