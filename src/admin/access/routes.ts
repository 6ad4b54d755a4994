import { userRoute, type Route } from '../../http/route.js';
import type { AdminDeps } from '../router.js';
import { companyParams } from '../schemas.js';
import { accessSchemas } from './schemas.js';
import { createAccessService } from './service.js';

export function accessRoutes({ db, policies, decide }: AdminDeps): Route[] {
  const service = createAccessService({ db, policies, decide });
  const schemas = accessSchemas(policies.catalog);
  return [
    userRoute({
      method: 'post',
      path: '/v1/companies/{company}/access/explain',
      summary: "What /v1/check decides for a member, and why, asked with one's own token (the console's access explorer)",
      description:
        "The body is a /v1/check body without `company` (the path names it), the principal by `id`. The answer is /v1/check's, decision and reason. " +
        'About another member the caller needs `view Member` and `view Role` in the company and, when the question names a project ' +
        '(Project, ProjectInformation, Scenario, ProjectMember), `view ProjectMember` on that project; else 403 forbidden. ' +
        "About oneself it needs no right, only a membership of the company. A caller with no active membership gets 404, as for a company that does not exist.",
      tag: 'Access',
      params: companyParams,
      body: schemas.explainBody,
      success: { status: 200, description: 'the decision, as /v1/check answers it (a deny is a 200 too)', schema: schemas.explainAnswer },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'unavailable'],
      handle: async ({ params, body }, caller) => ({ body: await service.explain(caller, params.company, body) }),
    }),
  ];
}
