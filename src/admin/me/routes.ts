import { userRoute, type Route } from '../../http/route.js';
import type { AdminDeps } from '../router.js';
import { meView } from './schemas.js';
import { createMeService } from './service.js';

export function meRoutes({ db }: AdminDeps): Route[] {
  const service = createMeService(db);
  return [
    userRoute({
      method: 'get',
      path: '/v1/me',
      summary: "The caller's memberships and the invitations to their verified email, across companies (a company switcher, an accept page)",
      tag: 'Me',
      success: { status: 200, description: 'memberships and invitations', schema: meView },
      errors: ['unauthenticated'],
      handle: async (_input, caller) => ({ body: await service.me(caller) }),
    }),
  ];
}
