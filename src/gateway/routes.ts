import { decide, parseQuestion, QUESTION_KEYS, type CheckQuestion } from '../check/decide.js';
import type { RouteCaseRunner } from '../check/policy-tests.js';
import { parseId } from '../check/service.js';
import { CastellanError } from '../errors.js';
import { PolicyFileError, type Catalog, type Policies } from '../policy/catalog.js';
import type { RouteDefinition } from '../policy/routes.js';
import { bindValue, compileRouteMap, RouteMapError, type RouteMatch, type RouteMatcher } from './route-map.js';

export type PolicyRouteMatcher = RouteMatcher<RouteDefinition>;

/** The route map compiled once; a conflict the schema cannot see (two routes of one shape) stops start-up like any broken policy file. */
export function compilePolicyRoutes(policies: Pick<Policies, 'routes' | 'routesFile'>): PolicyRouteMatcher {
  try {
    return compileRouteMap(policies.routes);
  } catch (error) {
    if (error instanceof RouteMapError) throw new PolicyFileError(policies.routesFile, [`at routes.${error.index}: ${error.message}`]);
    throw error;
  }
}

/** One check a matched route asks for. */
export interface RouteCheck {
  companyId: string;
  question: CheckQuestion;
}

export type RouteChecks = { ok: true; checks: RouteCheck[] } | { ok: false; reason: string };

/**
 * The checks the matched routes ask for, with the path's values validated as a check's would
 * be (ids, catalog fields): a value that is not one is a deny, never a 400, since a gateway
 * reads only 200 as allow.
 */
export function routeChecks(catalog: Catalog, matches: readonly RouteMatch<RouteDefinition>[]): RouteChecks {
  const checks: RouteCheck[] = [];
  for (const { route, params } of matches) {
    try {
      const companyId = parseId(bindValue(route.company, params), 'company');
      const attributes = route.resource.attributes ? Object.fromEntries(Object.entries(route.resource.attributes).map(([name, v]) => [name, bindValue(v, params)])) : undefined;
      const raw = {
        action: route.action,
        resource: { type: route.resource.type, ...(route.resource.id ? { id: bindValue(route.resource.id, params) } : {}), ...(attributes ? { attributes } : {}) },
        ...(route.field ? { field: bindValue(route.field, params) } : {}),
      };
      checks.push({ companyId, question: parseQuestion(catalog, raw, '', QUESTION_KEYS) });
    } catch (error) {
      if (!(error instanceof CastellanError)) throw error;
      return { ok: false, reason: `the path does not name a valid check for route ${route.method} ${route.path}: ${error.message}` };
    }
  }
  return { ok: true, checks };
}

/**
 * Runs gateway policy cases (`npm run policy:test`): the request through the same route map
 * and decision as forward-auth, for the suite's principal in the suite's company. Token
 * claims stand for a verified token: none is 401, an `exp` in the past is 401.
 */
export function createRouteCaseRunner(policies: Policies, matcher: PolicyRouteMatcher): RouteCaseRunner {
  return (testCase, principal) => {
    const claims = testCase.token;
    if (!claims) return { status: 401, reason: 'no token' };
    if (typeof claims.sub !== 'string' || claims.sub.length === 0) return { status: 401, reason: 'token has no subject' };
    if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) return { status: 401, reason: 'token expired' };
    const result = matcher.match(testCase.method, testCase.path);
    if (!result.matched) return { status: 403, reason: result.reason };
    const bound = routeChecks(policies.catalog, result.matches);
    if (!bound.ok) return { status: 403, reason: bound.reason };
    const reasons: string[] = [];
    for (const { companyId, question } of bound.checks) {
      const member = companyId === principal.suite.company && claims.sub === principal.suite.principal.id;
      if (!member) return { status: 403, reason: `${claims.sub} has no membership in company ${companyId}` };
      const decision = decide(policies.catalog, principal.ability, principal.projects, question, undefined, companyId);
      if (!decision.allowed) return { status: 403, reason: decision.reason };
      reasons.push(decision.reason);
    }
    return { status: 200, reason: reasons[0]! };
  };
}
