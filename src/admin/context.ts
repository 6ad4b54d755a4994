import { createMongoAbility, subject as asSubject, type MongoAbility } from '@casl/ability';
import type { Request } from 'express';
import type { Kysely, Transaction } from 'kysely';
import type { Auth, TokenClaims } from '../auth/auth.js';
import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../errors.js';
import type { Catalog, Policies } from '../policy/catalog.js';
import { compileStoredPrincipal } from '../policy/compiler.js';
import type { Database } from '../store/schema.js';
import { loadPrincipalFacts, loadPrincipalFactsIn, type LoadedPrincipal } from '../store/principal-facts.js';
import { describeLacking, lackingDecisions, type HeldDecision } from './escalation.js';

export type Caller = TokenClaims;

/** The admin API's bearer token, verified like every other token. */
export async function authenticate(auth: Auth, req: Request): Promise<Caller> {
  const header = req.headers.authorization;
  if (!header?.startsWith('Bearer ')) throw new UnauthenticatedError('missing bearer token');
  // An email with control characters never reaches the claims (verifiedEmail, src/auth/tokens.ts).
  return auth.verify(header.slice('Bearer '.length).trim());
}

/** The caller's own compiled rights in one company: the engine authorises its own admin API. */
export interface CallerRights {
  caller: Caller;
  companyId: string;
  /** Null when the caller has no membership at all in the company. */
  membership: LoadedPrincipal['membership'];
  ability: MongoAbility;
  /** The projects the caller holds a role on, directly or through a team. */
  grantedProjects: readonly string[];
  /** The company's policy version the rights were read at. */
  version: string;
}

export function rightsFrom(policies: Policies, caller: Caller, companyId: string, loaded: LoadedPrincipal): CallerRights {
  if (loaded.version === null) throw new NotFoundError(`company ${companyId} not found`);
  const ability = createMongoAbility(compileStoredPrincipal(policies, loaded));
  const grantedProjects = [...new Set(loaded.projectGrants.map((g) => g.projectId))];
  return { caller, companyId, membership: loaded.membership, ability, grantedProjects, version: loaded.version };
}

export async function loadRights(db: Kysely<Database> | Transaction<Database>, policies: Policies, caller: Caller, companyId: string): Promise<CallerRights> {
  const loaded = db.isTransaction
    ? await loadPrincipalFactsIn(db as Transaction<Database>, companyId, caller.sub)
    : await loadPrincipalFacts(db, companyId, caller.sub);
  return rightsFrom(policies, caller, companyId, loaded);
}

export interface Need {
  action: string;
  subject: string;
  /** Condition attributes of the resource, e.g. `{ id: projectId }` or `{ projectId }`. */
  attributes?: Record<string, unknown>;
  field?: string;
}

/**
 * Throws unless the caller may do `need`. Someone with no active membership learns
 * nothing about the company (404, as for a company that does not exist); a member
 * without the right gets 403.
 */
export function assertCan(rights: CallerRights, need: Need): void {
  if (rights.membership?.status !== 'active') throw new NotFoundError(`company ${rights.companyId} not found`);
  if (!can(rights, need)) {
    throw new ForbiddenError(`you may not ${need.action} ${need.subject}${need.field ? ` (${need.field})` : ''}`, {
      action: need.action,
      subject: need.subject,
      ...(need.field ? { field: need.field } : {}),
    });
  }
}

export function can(rights: CallerRights, need: Need): boolean {
  return rights.ability.can(need.action, asSubject(need.subject, { ...need.attributes }), need.field);
}

/** For routes any active member may read (e.g. the company itself). */
export function assertActiveMember(rights: CallerRights): void {
  if (rights.membership?.status !== 'active') throw new NotFoundError(`company ${rights.companyId} not found`);
}

/** Company admins (and so the owner) administer the whole company (D12). */
export function isAdmin(rights: CallerRights): boolean {
  return rights.membership?.status === 'active' && rights.membership.role === 'admin';
}

/**
 * D23: outside the admin role (admins give everything but ownership), a caller gives only
 * decisions they hold themselves. Throws 403 naming what they lack.
 */
export function assertHolds(rights: CallerRights, catalog: Catalog, decisions: readonly HeldDecision[], message: string, details: Record<string, unknown> = {}): void {
  if (isAdmin(rights)) return;
  const lacking = lackingDecisions(catalog, rights.ability, decisions);
  if (lacking.length) throw new ForbiddenError(message, { ...details, lacking: describeLacking(catalog, lacking) });
}
