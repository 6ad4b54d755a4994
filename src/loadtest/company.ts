import type { z } from 'zod';
import type { memberList } from '../admin/members/schemas.js';
import type { Catalog } from '../policy/catalog.js';
import type { RouteDefinition } from '../policy/routes.js';
import { mapConcurrent, type ApiClient } from './api.js';
import { WorkloadError, type Case, type CheckQuestion, type CheckSchemas } from './cases.js';
import { createPathFinder } from './gateway-paths.js';
import { catalogQuestion, catalogShapes, createRng, routeQuestion, type ProjectPool } from './questions.js';

type MemberList = z.infer<typeof memberList>;
type BatchAnswer = z.infer<CheckSchemas['batchAnswer']>;
type AccessibleAnswer = z.infer<CheckSchemas['accessibleAnswer']>;

/** End users' tokens, for forward-auth (a gateway passes the user's token, never an id). */
export interface TokenSource {
  /** How many distinct principals may get one (logging a local user in costs a scrypt on the server); null: any number. */
  maxPrincipals: number | null;
  /** Whether this user can have a token at all (an HS256 secret cannot sign for local users). */
  canSign(userId: string): boolean;
  tokenFor(userId: string): Promise<string>;
}

export interface CompanySampleOptions {
  company: string;
  adminToken: string;
  /** Questions wanted. */
  sample: number;
  /** Share of them that should be allowed, 0 to 1. */
  allowedRatio: number;
  /** Questions per principal asked together (the batch size for /v1/check/batch, else 1). */
  groupSize: number;
  seed: number;
  catalog: Catalog;
  /** Set for forward-auth: questions are drawn from the routes so each is a request a gateway can ask. */
  routes: readonly RouteDefinition[] | null;
  tokens: TokenSource | null;
  log: (line: string) => void;
}

export interface CompanySample {
  cases: Case[];
  summary: {
    company: string;
    activeMembers: number;
    registeredProjects: number;
    principals: number;
    candidates: number;
    allowed: number;
    denied: number;
    /** Set when the company did not have enough allowed (or denied) questions for the ratio asked. */
    shortfall: string | null;
  };
}

/** Candidates generated per question wanted, per round; more rounds run while a side of the ratio is short. */
const CANDIDATES_PER_QUESTION = 3;
const MAX_ROUNDS = 4;
const MAX_BATCH = 1000;

/**
 * Draws a workload from a real company: its active members (admin API), its registered
 * projects and each sampled member's own (check API, `/v1/accessible`), questions over the
 * catalog (or the route map, for forward-auth); then asks each candidate once through
 * `/v1/check/batch` and keeps allowed and denied ones in the ratio asked. Those answers are the
 * expected decisions the run checks every answer against.
 */
export async function sampleCompany(api: ApiClient, options: CompanySampleOptions): Promise<CompanySample> {
  const { company, catalog } = options;
  const rng = createRng(options.seed);
  const { members } = await api.admin<MemberList>(options.adminToken, 'GET', `/v1/companies/${encodeURIComponent(company)}/members`);
  let active = members.filter((m) => m.status === 'active');
  if (active.length === 0) throw new WorkloadError(`company ${company} has no active member to ask about`);
  const admin = active.find((m) => m.role === 'admin');
  // Admins see every registered project (D15, D18): the company's project list.
  const registered = admin ? await accessibleProjects(api, company, admin.userId) : [];
  options.log(`company ${company}: ${active.length.toLocaleString('en-US')} active members, ${registered.length.toLocaleString('en-US')} registered projects`);

  if (options.tokens) {
    const tokens = options.tokens;
    active = active.filter((m) => tokens.canSign(m.userId));
    if (active.length === 0) throw new WorkloadError(`company ${company}: no active member the tool can get a token for (forward-auth needs the user's token)`);
  }
  const groups = Math.ceil(options.sample / options.groupSize);
  let principals = rng.shuffle([...active]).slice(0, Math.min(groups, options.tokens?.maxPrincipals ?? Infinity));
  const own = new Map<string, string[]>();
  await mapConcurrent(principals, 16, async (m) => own.set(m.userId, await accessibleProjects(api, company, m.userId)));

  const shapes = catalogShapes(catalog);
  const finder = options.routes ? createPathFinder(catalog, options.routes) : null;
  const routes = options.routes ?? [];
  if (finder && routes.length === 0) throw new WorkloadError('forward-auth: routes.json has no route to ask');
  const draw = (userId: string): CheckQuestion => {
    const pool: ProjectPool = { registered, own: own.get(userId) ?? [] };
    if (!finder) return catalogQuestion(rng, catalog, rng.pick(shapes), pool);
    // Only questions a gateway request maps to exactly (an ambiguous path is decided by every route it matches).
    for (let attempt = 0; attempt < 1000; attempt++) {
      const q = routeQuestion(rng, catalog, rng.pick(routes), company, pool);
      if (finder.requestFor(company, q)) return q;
    }
    throw new WorkloadError('forward-auth: no route of routes.json maps to exactly one check');
  };

  const wantAllowed = Math.round(options.sample * options.allowedRatio);
  const wantDenied = options.sample - wantAllowed;
  const allowed: Array<{ userId: string; q: CheckQuestion }> = [];
  const denied: Array<{ userId: string; q: CheckQuestion }> = [];
  let candidates = 0;
  for (let round = 0; round < MAX_ROUNDS && (allowed.length < wantAllowed || denied.length < wantDenied); round++) {
    const perPrincipal = Math.min(MAX_BATCH, Math.ceil((options.sample * CANDIDATES_PER_QUESTION) / principals.length));
    await mapConcurrent(principals, 8, async (m) => {
      const questions = Array.from({ length: perPrincipal }, () => draw(m.userId));
      const answer = await api.check<BatchAnswer>('/v1/check/batch', { company, principal: { id: m.userId }, checks: questions });
      answer.results.forEach((r, i) => (r.allowed ? allowed : denied).push({ userId: m.userId, q: questions[i]! }));
    });
    candidates += perPrincipal * principals.length;
  }

  // Round-robin over principals within each side, so every sampled principal is asked.
  const take = (list: typeof allowed, count: number) => interleaveByPrincipal(list).slice(0, count);
  const chosenAllowed = take(allowed, wantAllowed);
  const chosenDenied = take(denied, wantDenied);
  const shortfall =
    chosenAllowed.length < wantAllowed || chosenDenied.length < wantDenied
      ? `found ${chosenAllowed.length.toLocaleString('en-US')} allowed and ${chosenDenied.length.toLocaleString('en-US')} denied questions in ${candidates.toLocaleString('en-US')} candidates (wanted ${wantAllowed.toLocaleString('en-US')} and ${wantDenied.toLocaleString('en-US')})`
      : null;
  const chosen = rng.shuffle([...chosenAllowed.map((c) => ({ ...c, expect: true })), ...chosenDenied.map((c) => ({ ...c, expect: false }))]);
  principals = principals.filter((m) => chosen.some((c) => c.userId === m.userId));
  const tokens = new Map<string, string>();
  if (options.tokens) for (const m of principals) tokens.set(m.userId, await options.tokens.tokenFor(m.userId));
  const cases: Case[] = chosen.map(({ userId, q, expect }) => ({ body: { company, principal: { id: userId }, ...q }, expect, token: tokens.get(userId) ?? null }));
  if (cases.length === 0) throw new WorkloadError(`company ${company}: no question could be drawn`);
  return {
    cases,
    summary: { company, activeMembers: active.length, registeredProjects: registered.length, principals: principals.length, candidates, allowed: chosenAllowed.length, denied: chosenDenied.length, shortfall },
  };
}

async function accessibleProjects(api: ApiClient, company: string, userId: string): Promise<string[]> {
  const answer = await api.check<AccessibleAnswer>('/v1/accessible', { company, principal: { id: userId }, action: 'view', resourceType: 'Project' });
  return answer.kind === 'some' ? (answer.ids ?? []) : [];
}

function interleaveByPrincipal<T extends { userId: string }>(list: readonly T[]): T[] {
  const byPrincipal = new Map<string, T[]>();
  for (const item of list) {
    let queue = byPrincipal.get(item.userId);
    if (!queue) byPrincipal.set(item.userId, (queue = []));
    queue.push(item);
  }
  const queues = [...byPrincipal.values()];
  const out: T[] = [];
  for (let i = 0; out.length < list.length; i++) for (const queue of queues) if (i < queue.length) out.push(queue[i]!);
  return out;
}
