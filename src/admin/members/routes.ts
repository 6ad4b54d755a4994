import type { Route } from '../../http/route.js';
import type { AdminDeps } from '../router.js';

export function membersRoutes(_deps: AdminDeps): Route[] {
  return [];
}
