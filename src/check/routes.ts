import { Router } from 'express';
import { mountRoutes, openRoute, type Route } from '../http/route.js';
import type { Catalog } from '../policy/catalog.js';
import { createCheckSchemas } from './schemas.js';
import type { CheckService } from './service.js';
import type { AskedAbout } from './self-check.js';

/**
 * The check API's credential rule, in the OpenAPI document of each endpoint it applies to
 * (README, Check API: who may call it).
 */
export const SELF_CHECK_RULE =
  'When CHECK_TOKEN is configured, send `Authorization: Bearer <CHECK_TOKEN>`. A user may instead send their own JWT ' +
  "(`Authorization: Bearer <user JWT>`, verified like `principal.token`) to ask about themself only: the principal must be the token's user " +
  "(`principal.id` equal to its `sub`, or a `principal.token` of the same user), and a local user's token answers only in the company it was issued for. " +
  "Anything else is 401 unauthenticated with `details.credential` `check_token`, as without a credential. Without CHECK_TOKEN (loopback only) no credential is needed.";

const fromBody = ({ body }: { body: unknown }): AskedAbout => {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  return { company: fields.company, principal: fields.principal };
};

const tag = 'Check';

/**
 * The check API as data. `hot` are served by the lean node:http handler (http-handler.ts)
 * ahead of express; they are listed here for the OpenAPI document, with the same service
 * behind them. `other` are mounted on express.
 */
export function checkApiRoutes(service: CheckService, catalog: Catalog): { hot: Route[]; other: Route[] } {
  const schemas = createCheckSchemas(catalog);
  const errors = ['unauthenticated', 'payload_too_large', 'unavailable'];
  return {
    hot: [
      openRoute({
        method: 'post',
        path: '/v1/check',
        summary: 'May this principal do this action on this resource? Decided on the resource as an object, never on the bare type',
        description: SELF_CHECK_RULE,
        askedAbout: fromBody,
        tag,
        security: 'service',
        body: schemas.checkBody,
        success: { status: 200, description: 'the decision (a deny is a 200 too)', schema: schemas.checkAnswer },
        errors,
        handle: async ({ body }) => ({ body: await service.check(body) }),
      }),
      openRoute({
        method: 'post',
        path: '/v1/check/batch',
        summary: 'Up to 1000 decisions for one principal, answered in request order from one version',
        description: `${SELF_CHECK_RULE} A batch has one principal for all its checks.`,
        askedAbout: fromBody,
        tag,
        security: 'service',
        body: schemas.batchBody,
        success: { status: 200, description: 'the decisions', schema: schemas.batchAnswer },
        errors,
        handle: async ({ body }) => ({ body: await service.batch(body) }),
      }),
    ],
    other: [
      openRoute({
        method: 'get',
        path: '/v1/companies/{company}/principals/{userId}/rules',
        summary: "The principal's compiled CASL rules, to decide locally with createMongoAbility (or unpackRules first for format=packed)",
        description: `${SELF_CHECK_RULE} Here the principal is the path's userId.`,
        askedAbout: ({ params }) => ({ company: params.company, principal: { id: params.userId } }),
        tag,
        security: 'service',
        params: schemas.rulesParams,
        query: schemas.rulesQuery,
        success: { status: 200, description: 'the rules', schema: schemas.rulesAnswer },
        alsoSucceeds: { status: 304, description: 'not modified: If-None-Match names the current ETag (the principal is at the same version)', empty: true },
        headers: {
          request: { 'If-None-Match': 'the ETag of rules the caller holds: 304 while they are current' },
          response: { ETag: 'a strong tag of the version, the policy files and the format: changes whenever the rules may have' },
        },
        errors: ['unauthenticated', 'unavailable'],
        handle: async ({ params, query, headers }) => {
          const reply = await service.rules(params.company, params.userId, query.format, query.minVersion, headers['if-none-match']);
          return { status: reply.body ? 200 : 304, body: reply.body, headers: { ETag: reply.etag } };
        },
      }),
      openRoute({
        method: 'post',
        path: '/v1/accessible',
        summary: 'Which resources of a type the principal may act on: all, none, some ids (Project), or a condition tree',
        description: SELF_CHECK_RULE,
        askedAbout: fromBody,
        tag,
        security: 'service',
        body: schemas.accessibleBody,
        success: { status: 200, description: 'the accessible resources', schema: schemas.accessibleAnswer },
        errors: ['unauthenticated', 'unavailable'],
        handle: async ({ body }) => ({ body: await service.accessible(body) }),
      }),
    ],
  };
}

/** The check API routes that are not on the hot path, served by express. */
export function createCheckRouter(
  routes: readonly Route[],
  isAuthorised: (header: string | undefined) => boolean,
  authoriseSelf?: (header: string | undefined, asked: AskedAbout) => Promise<boolean>,
): Router {
  const router = Router();
  mountRoutes(router, routes, { isServiceAuthorised: isAuthorised, ...(authoriseSelf ? { authoriseSelf } : {}) });
  return router;
}
