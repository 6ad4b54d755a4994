import { SignJWT } from 'jose';
import type { Principal } from './dataset.js';
import type { LoadRequest } from './load.js';
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

/**
 * The warm check's questions as a gateway asks them: the route of policies/routes.json that
 * names each (view Scenario and Project, edit branding and Scenario), with the principal's
 * bearer token. Same principals, same seed, same kinds of question as `warmBodies`.
 */
export function forwardAuthRequests(principals: readonly Principal[], seed: number, tokens: ReadonlyMap<string, string>): LoadRequest[] {
  const rng = createRng(seed);
  return principals.map((p, i) => {
    const q = mixedQuestion(rng, p, i);
    const company = `/api/companies/${p.companyId}`;
    const project = q.resource.attributes?.projectId;
    const [method, path] =
      q.resource.type === 'Project'
        ? ['GET', `${company}/projects/${q.resource.id}`]
        : q.resource.type === 'CompanySettings'
          ? ['PATCH', `${company}/settings/${q.field}`]
          : [q.action === 'view' ? 'GET' : 'PATCH', `${company}/projects/${project}/scenarios/${q.resource.id ?? 's-1'}`];
    return {
      method: 'GET',
      path: '/v1/forward-auth',
      headers: { authorization: `Bearer ${tokens.get(p.userId)!}`, 'x-forwarded-method': method, 'x-forwarded-uri': path },
    };
  });
}

/** The warm check's questions as AuthZEN Access Evaluation requests, each to its company's PDP. */
export function authzenRequests(principals: readonly Principal[], seed: number): LoadRequest[] {
  const rng = createRng(seed);
  return principals.map((p, i) => {
    const q = mixedQuestion(rng, p, i);
    const properties = { ...q.resource.attributes, ...(q.field ? { field: q.field } : {}) };
    const body = {
      subject: { type: 'user', id: p.userId },
      action: { name: q.action },
      resource: { type: q.resource.type, ...(q.resource.id ? { id: q.resource.id } : {}), properties },
    };
    return { method: 'POST', path: `/authzen/${p.companyId}/access/v1/evaluation`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  });
}

/** HS256 tokens for the principals, as the bench's instances verify them (AUTH_JWT_SECRET). */
export async function signTokens(principals: readonly Principal[], secret: string): Promise<Map<string, string>> {
  const key = new TextEncoder().encode(secret);
  const tokens = new Map<string, string>();
  for (const p of principals) tokens.set(p.userId, await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(p.userId).setIssuedAt().setExpirationTime('4h').sign(key));
  return tokens;
}
