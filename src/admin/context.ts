import { createMongoAbility, subject as asSubject, type MongoAbility } from '@casl/ability';
import type { Request } from 'express';
import type { Kysely, Transaction } from 'kysely';
import type { Auth, TokenClaims } from '../auth/auth.js';
import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../errors.js';
import type { Catalog, Policies } from '../policy/catalog.js';
import { compileStoredPrincipal } from '../policy/compiler.js';
import type { StoredPermission } from '../policy/types.js';
import type { Database } from '../store/schema.js';
import { loadPrincipalFacts, loadPrincipalFactsIn, type LoadedPrincipal } from '../store/principal-facts.js';

export type Caller = TokenClaims;

/** The admin API's bearer token, verified like every other token. */
export async function authenticate(auth: Auth, req: Request): Promise<Caller> {
  const header = req.headers.authorization;
  if (!header?.startsWith('Bearer ')) throw new UnauthenticatedError('missing bearer token');
  return auth.verify(header.slice('Bearer '.length).trim());
}

/** The caller's own compiled rights in one company: the engine authorises its own admin API. */
export interface CallerRights {
  caller: Caller;
  companyId: string;
  /** Null when the caller has no membership at all in the company. */
  membership: LoadedPrincipal['membership'];
  ability: MongoAbility;
  /** The company's policy version the rights were read at. */
  version: string;
}

export function rightsFrom(policies: Policies, caller: Caller, companyId: string, loaded: LoadedPrincipal): CallerRights {
  if (loaded.version === null) throw new NotFoundError(`company ${companyId} not found`);
  const ability = createMongoAbility(compileStoredPrincipal(policies, loaded));
  return { caller, companyId, membership: loaded.membership, ability, version: loaded.version };
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
 * Whether the caller holds `permission` themselves: on every field it names (all of the
 * subject's fields when it names none), and on every project unless `projectId` narrows
 * it to one. Asked on an object without attributes, a rule scoped to some projects does
 * not count: holding a permission on one project is not holding it company-wide.
 */
export function holdsPermission(rights: CallerRights, catalog: Catalog, permission: StoredPermission, projectId?: string): boolean {
  if (permission.inverted) return true; // a restriction gives nobody anything
  const spec = catalog.subjects[permission.subject];
  if (!spec) return false;
  const attributes = projectId !== undefined && spec.projectAttribute ? { [spec.projectAttribute]: projectId } : {};
  const fields: Array<string | undefined> = permission.fields ?? spec.fields ?? [undefined];
  return fields.every((field) => can(rights, { action: permission.action, subject: permission.subject, attributes, ...(field ? { field } : {}) }));
}

/**
 * No privilege escalation: outside the admin role, a caller may only hand out (in a role
 * or a grant) permissions they hold themselves. Returns those they lack.
 */
export function permissionsBeyond(rights: CallerRights, catalog: Catalog, permissions: readonly StoredPermission[], projectId?: string): StoredPermission[] {
  if (isAdmin(rights)) return [];
  return permissions.filter((permission) => !holdsPermission(rights, catalog, permission, projectId));
}
