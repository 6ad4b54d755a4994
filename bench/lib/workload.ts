import type { Principal } from './dataset.js';
import { createRng, type Rng } from './rng.js';

/** A check question in Castellan's API shape, without the principal. */
interface Question {
  action: string;
  resource: { type: string; id?: string; attributes?: Record<string, string> };
  field?: string;
}

export const activePrincipals = (principals: readonly Principal[]) => principals.filter((p) => p.status === 'active');

function grantedOrAny(rng: Rng, p: Principal): string {
  return p.projects.length ? rng.pick(p.projects) : `p${rng.int(0, p.companyProjects - 1)}`;
}

/** The project ids of the company that the principal was not granted (the deny case of the peer load). */
function notGranted(rng: Rng, p: Principal): string {
  const granted = new Set(p.projects);
  for (;;) {
    const id = `p${rng.int(0, p.companyProjects - 1)}`;
    if (!granted.has(id)) return id;
  }
}

/** A mix of what services ask: project-scoped scenario rights, project visibility, a settings section. */
function mixedQuestion(rng: Rng, p: Principal, kind: number): Question {
  switch (kind % 4) {
    case 0:
      return { action: 'view', resource: { type: 'Scenario', id: `s-${rng.int(1, 9999)}`, attributes: { projectId: grantedOrAny(rng, p) } } };
    case 1:
      return { action: 'view', resource: { type: 'Project', id: `p${rng.int(0, p.companyProjects - 1)}` } };
    case 2:
      return { action: 'edit', resource: { type: 'CompanySettings' }, field: 'branding' };
    default:
      return { action: 'edit', resource: { type: 'Scenario', attributes: { projectId: grantedOrAny(rng, p) } } };
  }
}

export const checkBody = (p: Pick<Principal, 'companyId' | 'userId'>, q: Question) => JSON.stringify({ company: p.companyId, principal: { id: p.userId }, ...q });

/** `count` distinct active principals, picked the same way on every run. */
export function samplePrincipals(principals: readonly Principal[], count: number, seed: number, accept: (p: Principal) => boolean = () => true): Principal[] {
  const candidates = activePrincipals(principals).filter(accept);
  const rng = createRng(seed);
  return rng.distinct(candidates.length, count).map((i) => candidates[i]!);
}

/** One single-check body per principal, cycling through four kinds of question. */
export function warmBodies(principals: readonly Principal[], seed: number): string[] {
  const rng = createRng(seed);
  return principals.map((p, i) => checkBody(p, mixedQuestion(rng, p, i)));
}

/** Batches of `size` mixed checks, one batch per principal. */
export function batchBodies(principals: readonly Principal[], size: number, seed: number): string[] {
  const rng = createRng(seed);
  return principals.map((p) => {
    const checks = Array.from({ length: size }, (_, i) => mixedQuestion(rng, p, i));
    return JSON.stringify({ company: p.companyId, principal: { id: p.userId }, checks });
  });
}

export interface PeerCase {
  castellan: string;
  cerbos: string;
  expected: boolean;
}

/**
 * The peer load: "may this collaborator view project X", half of them granted. Castellan
 * reads the grants from its store; Cerbos gets them as the principal attribute `projects`.
 */
export function peerCases(principals: readonly Principal[], seed: number): PeerCase[] {
  const rng = createRng(seed);
  return principals.map((p, i) => {
    const expected = i % 2 === 0;
    const projectId = expected ? rng.pick(p.projects) : notGranted(rng, p);
    return {
      castellan: checkBody(p, { action: 'view', resource: { type: 'Project', id: projectId } }),
      cerbos: JSON.stringify({
        principal: { id: p.userId, roles: ['collaborator'], attr: { projects: p.projects } },
        resources: [{ actions: ['view'], resource: { kind: 'project', id: projectId, attr: {} } }],
      }),
      expected,
    };
  });
}
