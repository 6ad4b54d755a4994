import { operatorRoute, type Route } from '../../http/route.js';
import type { AdminDeps } from '../router.js';
import { auditPage, auditParams, auditQuery } from './schemas.js';
import { createAuditService } from './service.js';

export function auditRoutes({ db, policies }: AdminDeps): Route[] {
  const service = createAuditService({ db, policies });
  return [
    operatorRoute({
      method: 'get',
      path: '/v1/companies/{company}/audit',
      summary:
        "Page through the audit log, oldest first, optionally only one actor's entries or targets starting with a prefix (view Member, view Role and view CompanySettings subscription); the operator credential alone reads any company's, a deleted one's too",
      description:
        '`?after=` and `?limit=` page through the entries oldest first; `next` is the cursor of the next page, null when there is none yet. ' +
        '`?actor=` keeps the entries of one actor (a user id, exactly; `operator` for the platform operator acting alone), `?target=` those whose target starts with the text ' +
        '(case-sensitive; `%` and `_` are plain characters). Ask the next page with the same filters: the cursor is the last entry returned.',
      tag: 'Audit',
      params: auditParams,
      query: auditQuery,
      success: { status: 200, description: 'a page of entries and the cursor of the next one', schema: auditPage },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params, query }, caller) => ({ body: await service.list(caller, params.company, query) }),
    }),
  ];
}
