import { PARAM_SEGMENT } from '../gateway/route-map.js';
import type { Catalog } from '../policy/catalog.js';
import type { RouteDefinition } from '../policy/routes.js';
import type { CheckQuestion } from './cases.js';
import { questionOfRoute } from './gateway-paths.js';

/** A seeded PRNG (mulberry32), so the same seed draws the same workload from the same company. */
export interface Rng {
  next(): number;
  int(minInclusive: number, maxInclusive: number): number;
  pick<T>(items: readonly T[]): T;
  shuffle<T>(items: T[]): T[];
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    shuffle<T>(items: T[]): T[] {
      for (let i = items.length - 1; i > 0; i--) {
        const j = int(0, i);
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    },
  };
}

/** Where a generated question's project comes from: the principal's own projects first, so allowed questions are found. */
export interface ProjectPool {
  registered: readonly string[];
  own: readonly string[];
}

function pickProject(rng: Rng, projects: ProjectPool): string {
  if (projects.own.length > 0 && rng.next() < 0.6) return rng.pick(projects.own);
  // A company with no registered project still gets project questions: denies (D15).
  return projects.registered.length > 0 ? rng.pick(projects.registered) : 'lt-unregistered';
}

/** Every question shape the catalog allows: each action of each type, each field of a sectioned type. */
export function catalogShapes(catalog: Catalog): Array<{ type: string; action: string; field?: string }> {
  return Object.entries(catalog.subjects).flatMap(([type, spec]) =>
    spec.actions.flatMap((action) => (spec.fields?.length ? spec.fields.map((field) => ({ type, action, field })) : [{ type, action }])),
  );
}

/** A question of the given shape about one of the company's projects (or none, for company-level types). */
export function catalogQuestion(rng: Rng, catalog: Catalog, shape: { type: string; action: string; field?: string }, projects: ProjectPool): CheckQuestion {
  const spec = catalog.subjects[shape.type]!;
  const q = { action: shape.action, resource: { type: shape.type }, ...(shape.field ? { field: shape.field } : {}) } as CheckQuestion;
  const attribute = spec.projectAttribute;
  // Creating a project is asked before the project exists: no id.
  if (!attribute || (shape.action === 'create' && shape.type === 'Project')) return q;
  const project = pickProject(rng, projects);
  q.resource = attribute === 'id' ? { type: q.resource.type, id: project } : { type: q.resource.type, id: `lt-${rng.int(1, 99_999)}`, attributes: { [attribute]: project } };
  return q;
}

/** A question forward-auth can be asked: one route of routes.json with its path values drawn. */
export function routeQuestion(rng: Rng, catalog: Catalog, route: RouteDefinition, company: string, projects: ProjectPool): CheckQuestion {
  const spec = catalog.subjects[route.resource.type]!;
  const params: Record<string, string> = {};
  const param = (template: string | undefined) => (template && PARAM_SEGMENT.test(template) ? template.slice(1) : null);
  const companyParam = param(route.company);
  if (companyParam) params[companyParam] = company;
  const projectTemplate = spec.projectAttribute === 'id' ? route.resource.id : route.resource.attributes?.[spec.projectAttribute ?? ''];
  const projectParam = param(projectTemplate);
  if (projectParam) params[projectParam] = pickProject(rng, projects);
  const fieldParam = param(route.field);
  if (fieldParam && spec.fields?.length) params[fieldParam] = rng.pick(spec.fields);
  for (const segment of route.path.split('/')) {
    const name = param(segment);
    if (name && params[name] === undefined) params[name] = `lt-${rng.int(1, 99_999)}`;
  }
  return questionOfRoute(route, params).question;
}
