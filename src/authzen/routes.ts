import { Router } from 'express';
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { mountRoutes, openRoute, type Route } from '../http/route.js';
import { idSchema } from '../policy/ids.js';
import type { Evaluator } from './evaluation.js';
import type { Searcher } from './search.js';
import {
  actionSearchAnswer,
  actionSearchBody,
  decisionAnswer,
  evaluationBody,
  evaluationsAnswer,
  evaluationsBody,
  metadataAnswer,
  resourceSearchAnswer,
  resourceSearchBody,
  subjectSearchAnswer,
  subjectSearchBody,
} from './schemas.js';

const tag = 'AuthZEN';
const params = z.strictObject({ company: idSchema.describe('the company: one PDP per company') });
const errors = ['unauthenticated', 'unavailable'];
const requestId = { request: { 'X-Request-ID': 'echoed in the answer (spec 10.1.3)' }, response: { 'X-Request-ID': "the request's own, or a new one" } };

/** Where the API answers: PUBLIC_URL, else this request's own host (Castellan itself speaks plain HTTP). */
function baseUrl(publicUrl: string | undefined, host: string | undefined): string {
  if (publicUrl) return publicUrl;
  if (!host || !/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host)) {
    throw new InvalidRequestError('the Host header is not a host name; set PUBLIC_URL', { path: 'Host' });
  }
  return `http://${host}`;
}

/**
 * PDP metadata (spec 9). The identifier is the base URL and the company, so that RFC 8615's
 * rule (the well-known path inserted between host and path) leads from it to this document;
 * the endpoints are named explicitly, as a PEP must then use them.
 */
export function metadataFor(base: string, companyId: string) {
  const api = `${base}/authzen/${encodeURIComponent(companyId)}/access/v1`;
  return {
    policy_decision_point: `${base}/${encodeURIComponent(companyId)}`,
    access_evaluation_endpoint: `${api}/evaluation`,
    access_evaluations_endpoint: `${api}/evaluations`,
    search_subject_endpoint: `${api}/search/subject`,
    search_resource_endpoint: `${api}/search/resource`,
    search_action_endpoint: `${api}/search/action`,
  };
}

/**
 * The AuthZEN Authorization API 1.0, one PDP per company, as data. `hot` (Access
 * Evaluation) is served by the lean node:http handler (http-handler.ts) and listed here for
 * the OpenAPI document; `other` is mounted on express.
 */
export function authzenRoutes(deps: { evaluator: Evaluator; searcher: Searcher; publicUrl: string | undefined }): { hot: Route[]; other: Route[] } {
  const { evaluator, searcher, publicUrl } = deps;
  const base = '/authzen/{company}/access/v1';
  const [metadata, evaluation, ...rest] = [
    openRoute({
      method: 'get',
      path: '/.well-known/authzen-configuration/{company}',
      summary: "The company's PDP metadata: its identifier and endpoints (absolute URLs from PUBLIC_URL, else the request's host)",
      tag,
      security: 'none',
      params,
      success: { status: 200, description: 'the metadata', schema: metadataAnswer },
      errors: [],
      handle: async ({ params: p, headers }) => ({
        body: metadataFor(baseUrl(publicUrl, headers.host), p.company),
        // A URL built from the Host header must not be cached for other clients.
        headers: { 'cache-control': publicUrl ? 'public, max-age=3600' : 'no-store' },
      }),
    }),
    openRoute({
      method: 'post',
      path: `${base}/evaluation`,
      summary: 'Access Evaluation: may this subject do this action on this resource? Decided like /v1/check; a deny is a 200',
      tag,
      security: 'service',
      params,
      body: evaluationBody,
      headers: requestId,
      success: { status: 200, description: 'the decision', schema: decisionAnswer },
      errors,
      handle: async ({ params: p, body }) => ({ body: await evaluator.evaluate(p.company, body) }),
    }),
    openRoute({
      method: 'post',
      path: `${base}/evaluations`,
      summary: 'Access Evaluations: up to 1000 evaluations with top-level defaults; options.evaluations_semantic execute_all, deny_on_first_deny or permit_on_first_permit',
      tag,
      security: 'service',
      params,
      body: evaluationsBody,
      headers: requestId,
      success: { status: 200, description: 'the decisions in request order (an item that cannot be evaluated: decision false with context.error)', schema: evaluationsAnswer },
      errors,
      handle: async ({ params: p, body }) => ({ body: await evaluator.evaluations(p.company, body) }),
    }),
    openRoute({
      method: 'post',
      path: `${base}/search/subject`,
      summary: 'Subject Search: the users who may do the action on the resource (company roles, direct and team grants), a page at a time',
      tag,
      security: 'service',
      params,
      body: subjectSearchBody,
      headers: requestId,
      success: { status: 200, description: 'a page of users', schema: subjectSearchAnswer },
      errors,
      handle: async ({ params: p, body }) => ({ body: await searcher.subjects(p.company, body) }),
    }),
    openRoute({
      method: 'post',
      path: `${base}/search/resource`,
      summary: 'Resource Search: the projects the subject may do the action on (as /v1/accessible), a page at a time',
      tag,
      security: 'service',
      params,
      body: resourceSearchBody,
      headers: requestId,
      success: { status: 200, description: 'a page of projects', schema: resourceSearchAnswer },
      errors,
      handle: async ({ params: p, body }) => ({ body: await searcher.resources(p.company, body) }),
    }),
    openRoute({
      method: 'post',
      path: `${base}/search/action`,
      summary: "Action Search: the catalog actions the subject may do on the resource, in the catalog's order",
      tag,
      security: 'service',
      params,
      body: actionSearchBody,
      headers: requestId,
      success: { status: 200, description: 'the actions', schema: actionSearchAnswer },
      errors,
      handle: async ({ params: p, body }) => ({ body: await searcher.actions(p.company, body) }),
    }),
  ];
  return { hot: [evaluation!], other: [metadata!, ...rest] };
}

export function createAuthzenRouter(routes: readonly Route[], isAuthorised: (header: string | undefined) => boolean): Router {
  const router = Router();
  mountRoutes(router, routes, { isServiceAuthorised: isAuthorised });
  return router;
}
