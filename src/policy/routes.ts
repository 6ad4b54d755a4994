import { z } from 'zod';
import type { Catalog } from './catalog.js';
import { ID_PATTERN } from './ids.js';

/**
 * `policies/routes.json`: which check forward-auth takes for a gateway's request. Each
 * route names a method, a path of literal segments and `:name` parameters, and the check's
 * company, action, resource and field, where `:name` takes the parameter's value.
 */
const PARAM = /^:[A-Za-z_][A-Za-z0-9_]*$/;
const ROUTE_PATH = /^(?:\/(?:[A-Za-z0-9._~-]+|:[A-Za-z_][A-Za-z0-9_]*))+$/;
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9]*$/;
export const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const value = z.string().refine((v) => PARAM.test(v) || ID_PATTERN.test(v), 'must be a :parameter of the path or an id (1-128 chars of [A-Za-z0-9._:@-])');

export const routeSchema = z.strictObject({
  method: z.enum(ROUTE_METHODS),
  path: z
    .string()
    .regex(ROUTE_PATH, 'must be "/" then segments separated by "/", each :name or made of letters, digits, ".", "_", "~" and "-"'),
  company: value,
  action: z.string().min(1),
  resource: z.strictObject({
    type: z.string().min(1),
    id: value.optional(),
    attributes: z.record(z.string(), value).optional(),
  }),
  field: z
    .string()
    .refine((v) => PARAM.test(v) || FIELD_NAME.test(v), 'must be a :parameter of the path or a field name')
    .optional(),
  description: z.string().optional(),
});

export type RouteDefinition = z.infer<typeof routeSchema>;

const paramsOf = (path: string): Set<string> => new Set(path.split('/').filter((s) => PARAM.test(s)).map((s) => s.slice(1)));

/** Problems of one route against the catalog and its own path, each with where it is. */
function routeProblems(catalog: Catalog, route: RouteDefinition): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  const params = paramsOf(route.path);
  const values: Array<[PropertyKey[], string | undefined]> = [
    [['company'], route.company],
    [['resource', 'id'], route.resource.id],
    [['field'], route.field],
    ...Object.entries(route.resource.attributes ?? {}).map(([name, v]): [PropertyKey[], string] => [['resource', 'attributes', name], v]),
  ];
  for (const [at, v] of values) {
    if (v !== undefined && PARAM.test(v) && !params.has(v.slice(1))) problems.push({ path: at, message: `"${v}" is not a parameter of the path` });
  }
  const spec = catalog.subjects[route.resource.type];
  if (!spec) return [...problems, { path: ['resource', 'type'], message: `unknown resource type "${route.resource.type}"` }];
  if (!spec.actions.includes(route.action)) problems.push({ path: ['action'], message: `"${route.action}" is not an action of ${route.resource.type}` });
  for (const name of Object.keys(route.resource.attributes ?? {})) {
    if (!spec.attributes?.includes(name)) problems.push({ path: ['resource', 'attributes', name], message: `"${name}" is not an attribute of ${route.resource.type}` });
  }
  if (route.field !== undefined && !spec.fields) problems.push({ path: ['field'], message: `${route.resource.type} has no fields` });
  else if (route.field !== undefined && !PARAM.test(route.field) && !spec.fields!.includes(route.field)) {
    problems.push({ path: ['field'], message: `"${route.field}" is not a field of ${route.resource.type}` });
  }
  // A check that names no project is denied (D15): such a route could never allow anything.
  const attribute = spec.projectAttribute;
  const creates = route.action === 'create' && route.resource.type === 'Project';
  if (attribute && !creates) {
    const named = attribute === 'id' ? (route.resource.id ?? route.resource.attributes?.id) : route.resource.attributes?.[attribute];
    if (named === undefined) {
      const where = attribute === 'id' ? 'resource.id' : `resource.attributes.${attribute}`;
      problems.push({ path: ['resource'], message: `${route.resource.type} is project-scoped: the route must name the project (${where}), else it denies every request` });
    }
  }
  return problems;
}

/** The route map file: each route's shape, then each route against the catalog. */
export const routeMapSchema = (catalog: Catalog) =>
  z.strictObject({ routes: z.array(routeSchema) }).superRefine((file, ctx) => {
    file.routes.forEach((route, i) => {
      for (const problem of routeProblems(catalog, route)) ctx.addIssue({ code: 'custom', path: ['routes', i, ...problem.path], message: problem.message });
    });
  });

export type RouteMap = z.infer<ReturnType<typeof routeMapSchema>>;
