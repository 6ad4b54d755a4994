import { bindValue, compileRouteMap, PARAM_SEGMENT, type RouteMatcher } from '../gateway/route-map.js';
import type { Catalog } from '../policy/catalog.js';
import type { RouteDefinition } from '../policy/routes.js';
import type { CheckQuestion } from './cases.js';

/**
 * Forward-auth asks about a gateway's request, not a check: to send a workload's questions
 * there, each becomes the request that `routes.json` maps to that very question. Pure.
 */

export interface GatewayRequest {
  method: string;
  path: string;
}

/** The question a route asks for these path values, as forward-auth derives it. */
export function questionOfRoute(route: RouteDefinition, params: Readonly<Record<string, string>>): { company: string | undefined; question: CheckQuestion } {
  const attributes = route.resource.attributes ? Object.fromEntries(Object.entries(route.resource.attributes).map(([name, v]) => [name, bindValue(v, params)!])) : undefined;
  const id = route.resource.id ? bindValue(route.resource.id, params) : undefined;
  const field = route.field ? bindValue(route.field, params) : undefined;
  return {
    company: bindValue(route.company, params),
    question: {
      action: route.action as CheckQuestion['action'],
      resource: { type: route.resource.type as CheckQuestion['resource']['type'], ...(id ? { id } : {}), ...(attributes ? { attributes } : {}) },
      ...(field ? { field: field as CheckQuestion['field'] } : {}),
    },
  };
}

/** The parts of a question its decision can depend on: action, type, field, the type's catalog attributes and the id. */
function decisionKey(catalog: Catalog, q: CheckQuestion): string {
  const spec = catalog.subjects[q.resource.type];
  const attributes = (spec?.attributes ?? []).map((name) => (name === 'id' ? (q.resource.id ?? q.resource.attributes?.id) : q.resource.attributes?.[name]) ?? null);
  // A resource's id counts only where it is a catalog attribute (Project's id is its project).
  return JSON.stringify([q.action, q.resource.type, q.field ?? null, attributes]);
}

export function createPathFinder(catalog: Catalog, routes: readonly RouteDefinition[]) {
  const matcher: RouteMatcher<RouteDefinition> = compileRouteMap(routes);

  /** The path with every `:name` filled; parameters the question does not give get a placeholder id. */
  const fill = (route: RouteDefinition, params: Record<string, string>): string =>
    route.path
      .split('/')
      .map((segment) => (PARAM_SEGMENT.test(segment) ? (params[segment.slice(1)] ?? (params[segment.slice(1)] = 'lt-1')) : segment))
      .join('/');

  /** Binds a route's template to a value the question gives; false when a literal or an earlier binding disagrees. */
  const bind = (params: Record<string, string>, template: string | undefined, value: string | undefined): boolean => {
    if (template === undefined) return value === undefined;
    if (value === undefined) return PARAM_SEGMENT.test(template);
    if (!PARAM_SEGMENT.test(template)) return template === value;
    const name = template.slice(1);
    if (params[name] !== undefined && params[name] !== value) return false;
    params[name] = value;
    return true;
  };

  return {
    /**
     * The gateway request forward-auth decides exactly as this question (the same decision
     * key, and no other route matching the path, since an ambiguous path must be allowed by
     * every route it matches); null when routes.json has none.
     */
    requestFor(company: string, q: CheckQuestion): GatewayRequest | null {
      const wanted = decisionKey(catalog, q);
      for (const route of routes) {
        if (route.action !== q.action || route.resource.type !== q.resource.type) continue;
        const params: Record<string, string> = {};
        if (!bind(params, route.company, company) || !bind(params, route.field, q.field)) continue;
        if (route.resource.id && q.resource.id !== undefined && !bind(params, route.resource.id, q.resource.id)) continue;
        let bound = true;
        for (const [name, template] of Object.entries(route.resource.attributes ?? {})) {
          const value = q.resource.attributes?.[name];
          if (!bind(params, template, value === undefined ? undefined : String(value))) bound = false;
        }
        if (!bound) continue;
        const path = fill(route, params);
        const asked = questionOfRoute(route, params);
        if (asked.company !== company || decisionKey(catalog, asked.question) !== wanted) continue;
        const match = matcher.match(route.method, path);
        if (match.matched && match.matches.length === 1 && match.matches[0]!.route === route) return { method: route.method, path };
      }
      return null;
    },
  };
}
