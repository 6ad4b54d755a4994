import type { Kysely } from 'kysely';
import { createCheckAbility } from '../check/abilities.js';
import { decide, type CheckQuestion } from '../check/decide.js';
import { LruCache } from '../check/lru.js';
import { NO_PROJECTS } from '../check/project-sets.js';
import { accessibleProjectIds, checkAnswer, type CheckService } from '../check/service.js';
import { InvalidRequestError, UnavailableError } from '../errors.js';
import type { Catalog, Policies } from '../policy/catalog.js';
import { compileRules, compileStoredPrincipal, type CompiledRule } from '../policy/compiler.js';
import { COMPANY_ROLES } from '../policy/types.js';
import type { Database } from '../store/schema.js';
import { searchSubjects, type MembershipShape, type SubjectFilter, type SubjectSearchFacts } from '../store/subject-search.js';
import { minVersionOf, questionOf, SUBJECT_TYPE, userOf } from './mapping.js';
import { readToken, searchBinding, writeToken, type Cursor } from './page-token.js';
import { DEFAULT_PAGE_LIMIT, type Action, type Context, type Page, type Resource } from './schemas.js';

export interface SearchAnswer<T> {
  page: { next_token: string; count: number };
  context: { version: string };
  results: T[];
}

/** Where a page starts and what it must be at least as new as: the first page's version, or the PEP's minVersion. */
interface Paging {
  binding: string;
  after: string | null;
  limit: number;
  minVersion: bigint | undefined;
}

function pagingOf(kind: string, companyId: string, parameters: { context?: Context | undefined; page?: Page | undefined }, identity: unknown): Paging {
  const binding = searchBinding({ kind, companyId, identity, context: parameters.context ?? null });
  const requested = minVersionOf(parameters.context, '');
  const cursor: Cursor | null = parameters.page?.token === undefined ? null : readToken(parameters.page.token, binding);
  const asked = parameters.page?.limit;
  if (cursor && asked !== undefined && asked !== cursor.limit) {
    throw new InvalidRequestError(`page.limit: must be the first page's (${cursor.limit}) or left out`, { path: 'page.limit' });
  }
  const limit = cursor?.limit ?? asked ?? DEFAULT_PAGE_LIMIT;
  const floor = cursor ? BigInt(cursor.version) : undefined;
  const minVersion = floor !== undefined && (requested === undefined || floor > requested) ? floor : requested;
  return { binding, after: cursor?.after ?? null, limit, minVersion };
}

/** A page of results from `limit + 1` candidates in order: the extra one only says that another page exists. */
function pageOf<T>(candidates: readonly string[], paging: Paging, version: string, toResult: (id: string) => T): SearchAnswer<T> {
  const shown = candidates.slice(0, paging.limit);
  const more = candidates.length > paging.limit;
  const after = shown.length ? shown[shown.length - 1]! : paging.after;
  return { page: { next_token: more ? writeToken(paging.binding, { after, version, limit: paging.limit }) : '', count: shown.length }, context: { version }, results: shown.map(toResult) };
}

/** The project a question names, as decide() reads it (`resource.id` first for Project), when it is one a grant can name. */
function projectOf(catalog: Catalog, question: CheckQuestion): string | null {
  const attribute = catalog.subjects[question.resource.type]?.projectAttribute;
  if (attribute === undefined) return null;
  const named = attribute === 'id' && question.resource.id !== undefined ? question.resource.id : question.resource.attributes?.[attribute];
  return typeof named === 'string' ? named : null;
}

const active = { status: 'active' as const, owner: false, applicationAccess: false, developerAccess: false };

/** The newest subject-search filter per company and question: a few hundred bytes each. */
const PLANS_KEPT = 1000;

/**
 * Who may, from the rights of each kind of membership rather than of each member: a
 * principal's rules are its company role's (with its tags), then its project grants, and
 * a project role only allows, so a member may exactly when their role and tags allow or
 * one of their grants on the project does (compileRules' order). Each part is decided with
 * the check's own ability and decide(), on the company's data read in the search's snapshot.
 */
function planSubjects(policies: Policies, question: CheckQuestion): (facts: SubjectSearchFacts) => SubjectFilter {
  const { catalog } = policies;
  const projectId = projectOf(catalog, question);
  return (facts) => {
    const projects = projectId !== null && facts.projectRegistered ? new Set([projectId]) : NO_PROJECTS;
    const allows = (rules: CompiledRule[]) => decide(catalog, createCheckAbility(rules), projects, question).allowed;
    const shapes: MembershipShape[] = [];
    for (const role of COMPANY_ROLES) {
      // The owner is always an admin (a constraint of the store).
      const combos = (role === 'admin' ? [false, true] : [false]).flatMap((owner) => [false, true].flatMap((applicationAccess) => [false, true].map((developerAccess) => ({ role, owner, applicationAccess, developerAccess }))));
      const allowed = combos.filter((shape) =>
        allows(compileStoredPrincipal(policies, { membership: { ...active, ...shape }, companyRolePermissions: role === 'admin' ? null : (facts.companyRolePermissions[role] ?? null), projectGrants: [] })),
      );
      if (allowed.length === combos.length) shapes.push({ role });
      else shapes.push(...allowed);
    }
    const projectRoleKeys =
      projectId !== null && facts.projectRegistered
        ? facts.projectRoles
            .filter((r) => allows(compileRules(catalog, { membership: { ...active, role: 'collaborator' }, companyRolePermissions: [], projectGrants: [{ projectId, roleKey: r.key, teamId: null, permissions: r.permissions }] })))
            .map((r) => r.key)
        : [];
    return { shapes, projectId, projectRoleKeys };
  };
}

/**
 * The Search APIs (spec 8). Resource and action search read the principal's ability, as
 * /v1/check and /v1/accessible do; subject search reads the store a page at a time. Each
 * result is one that /v1/check allows at the version in `context.version`.
 */
export function createSearcher(deps: { policies: Policies; service: CheckService; db: Kysely<Database> }) {
  const { policies, service, db } = deps;
  const { catalog } = policies;
  const plans = new LruCache<{ version: string; filter: SubjectFilter }>(PLANS_KEPT);

  async function subjects(companyId: string, body: { subject: { type: string }; action: Action; resource: Resource; context?: Context | undefined; page?: Page | undefined }) {
    if (body.subject.type !== SUBJECT_TYPE) throw new InvalidRequestError(`subject.type: must be "${SUBJECT_TYPE}" (got "${body.subject.type}")`, { path: 'subject.type' });
    const question = questionOf(catalog, body.action, body.resource, '');
    const paging = pagingOf('subject', companyId, body, { subject: body.subject, action: body.action, resource: body.resource });
    // Read from the store itself, not a cache: PostgreSQL away is a 503 (the server maps connection errors).
    const planKey = JSON.stringify(question);
    const planner = {
      // Paging through a result asks the same question page after page: its filter is made once per version.
      latest: () => plans.get(companyId, planKey),
      make: (facts: SubjectSearchFacts) => {
        const filter = planSubjects(policies, question)(facts);
        const held = plans.peek(companyId, planKey);
        if (!held || BigInt(held.version) <= BigInt(facts.version)) plans.set(companyId, planKey, { version: facts.version, filter });
        return filter;
      },
    };
    const page = await searchSubjects(db, companyId, projectOf(catalog, question), planner, { after: paging.after, limit: paging.limit });
    const version = page.version ?? '0';
    if (paging.minVersion !== undefined && BigInt(version) < paging.minVersion) {
      throw new UnavailableError(`the company's policy version is ${version}, older than the version ${paging.minVersion} asked for`, { currentVersion: version, minVersion: String(paging.minVersion) });
    }
    return pageOf(page.userIds, paging, version, (id) => ({ type: SUBJECT_TYPE, id }));
  }

  async function resources(companyId: string, body: { subject: { type: string; id: string }; action: Action; resource: Resource; context?: Context | undefined; page?: Page | undefined }) {
    const userId = userOf(body.subject, '');
    // Castellan knows the ids of projects only: other types' resources live in other services (use /v1/accessible's condition for them).
    if (body.resource.type !== 'Project') throw new InvalidRequestError(`resource.type: resource search answers Project only (Castellan holds no ids of ${body.resource.type})`, { path: 'resource.type' });
    // The searched resource's id is ignored (spec 8.5); its properties are not a filter either.
    questionOf(catalog, body.action, { type: 'Project' }, '');
    const paging = pagingOf('resource', companyId, body, { subject: body.subject, action: body.action, type: body.resource.type });
    const entry = await service.ability(companyId, userId, paging.minVersion);
    const ids = accessibleProjectIds(catalog, entry, body.action.name);
    const start = paging.after === null ? 0 : firstAfter(ids, paging.after);
    return pageOf(ids.slice(start, start + paging.limit + 1), paging, entry.versionText, (id) => ({ type: 'Project', id }));
  }

  async function actions(companyId: string, body: { subject: { type: string; id: string }; resource: Resource; context?: Context | undefined; page?: Page | undefined }) {
    const userId = userOf(body.subject, '');
    const spec = catalog.subjects[body.resource.type];
    if (!spec) throw new InvalidRequestError(`resource.type: unknown resource type "${body.resource.type}"`, { path: 'resource.type' });
    const questions = spec.actions.map((name) => questionOf(catalog, { name }, body.resource, ''));
    const paging = pagingOf('action', companyId, body, { subject: body.subject, resource: body.resource });
    const entry = await service.ability(companyId, userId, paging.minVersion);
    const allowed = questions.filter((q) => checkAnswer(catalog, entry, q, companyId).allowed).map((q) => q.action);
    const start = paging.after === null ? 0 : allowed.indexOf(paging.after) + 1;
    return pageOf(allowed.slice(start, start + paging.limit + 1), paging, entry.versionText, (name) => ({ name }));
  }

  return { subjects, resources, actions };
}

/** Index of the first id after `after` in a sorted list (binary search: the list may hold a company's every project). */
function firstAfter(sorted: readonly string[], after: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= after) low = middle + 1;
    else high = middle;
  }
  return low;
}

export type Searcher = ReturnType<typeof createSearcher>;
