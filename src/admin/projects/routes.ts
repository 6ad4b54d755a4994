import type { Route } from '../../http/route.js';
import type { AdminDeps } from '../router.js';

export function projectsRoutes(_deps: AdminDeps): Route[] {
  return [];
}
