import { createMongoAbility } from '@casl/ability';
import { packRules, rulesToCondition } from '@casl/ability/extra';
import type { Catalog } from '../policy/catalog.js';
import type { CompiledRule } from '../policy/compiler.js';
import { ID_PATTERN } from '../policy/catalog.js';
import { InvalidRequestError } from '../errors.js';
import { isUserId, USER_ID_RULE } from '../auth/user-id.js';
import type { AbilityProvider, PrincipalAbility } from './abilities.js';
import { MAX_BATCH, VERSION_PATTERN } from './schemas.js';
import { decide, isPlainObject, parseQuestion, shown, QUESTION_KEYS, type CheckQuestion, type Decision } from './decide.js';
import { exportedRules } from './exported-rules.js';
import { ifNoneMatchHits, rulesEtag } from './rules-etag.js';

/** Verifies an end user's JWT and returns its subject; throws UnauthenticatedError. */
export type VerifyToken = (token: string) => Promise<{ sub: string }>;

export interface CheckAnswer extends Decision {
  version: string;
}

export interface BatchAnswer {
  version: string;
  results: Decision[];
}

/** The rules, or null when the caller's If-None-Match still holds (a 304). */
export interface RulesReply {
  etag: string;
  body: { version: string; rules: unknown[] } | null;
}

const CHECK_KEYS: ReadonlySet<string> = new Set([...QUESTION_KEYS, 'company', 'principal', 'consistency']);
const BATCH_KEYS: ReadonlySet<string> = new Set(['company', 'principal', 'checks', 'consistency']);
const ACCESSIBLE_KEYS: ReadonlySet<string> = new Set(['company', 'principal', 'action', 'resourceType', 'consistency']);

const invalid = (message: string, path: string): never => {
  throw new InvalidRequestError(message, { path });
};

export function parseId(value: unknown, path: string): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) return invalid(`${path} must be an id (1-128 chars of [A-Za-z0-9._:@-])`, path);
  return value;
}

export function parseUserId(value: unknown, path: string): string {
  if (!isUserId(value)) return invalid(`${path} must be a user id (${USER_ID_RULE})`, path);
  return value;
}

export function parseMinVersion(consistency: unknown): bigint | undefined {
  if (consistency === undefined) return undefined;
  if (!isPlainObject(consistency)) return invalid('consistency must be an object', 'consistency');
  for (const key in consistency) if (key !== 'minVersion') invalid(`unknown field "${key}"`, `consistency.${key}`);
  const { minVersion } = consistency;
  if (minVersion === undefined) return undefined;
  if (typeof minVersion !== 'string' || !VERSION_PATTERN.test(minVersion)) return invalid('consistency.minVersion must be a decimal string', 'consistency.minVersion');
  return BigInt(minVersion);
}

function checkKeys(body: Record<string, unknown>, allowed: ReadonlySet<string>): void {
  for (const key in body) if (!allowed.has(key)) invalid(`unknown field ${shown(key)}`, key.slice(0, 64));
}

/** A principal named by id, or by a token not yet verified. */
type PrincipalRef = string | { token: string };

export function createCheckService(deps: { catalog: Catalog; abilities: AbilityProvider; verifyToken: VerifyToken; policiesTag?: string }) {
  const { catalog, abilities, verifyToken } = deps;
  const policiesTag = deps.policiesTag ?? 'policies';

  /**
   * The principal's user id, or its token still to verify. Verifying starts only once the
   * whole body has been read (abilityFor): a verification started before a later part of
   * the body is refused would reject with nobody waiting for it, which ends the process.
   */
  function principalRef(value: unknown): PrincipalRef {
    if (!isPlainObject(value)) return invalid('principal must be an object with "id" or "token"', 'principal');
    const { id, token } = value;
    if ((id === undefined) === (token === undefined)) return invalid('principal needs exactly one of "id" and "token"', 'principal');
    for (const key in value) if (key !== 'id' && key !== 'token') invalid(`unknown field ${shown(key)}`, `principal.${key.slice(0, 64)}`);
    if (id !== undefined) return parseUserId(id, 'principal.id');
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) return invalid('principal.token must be a JWT', 'principal.token');
    return { token };
  }

  function abilityFor(companyId: string, principal: PrincipalRef, minVersion: bigint | undefined): PrincipalAbility | Promise<PrincipalAbility> {
    if (typeof principal === 'string') return abilities.get(companyId, principal, minVersion);
    return verifyToken(principal.token).then((claims) => abilities.get(companyId, parseUserId(claims.sub, 'principal.token sub'), minVersion));
  }

  function envelope(body: unknown, keys: ReadonlySet<string>) {
    if (!isPlainObject(body)) return invalid('the body must be a JSON object', '(body)');
    checkKeys(body, keys);
    const companyId = parseId(body.company, 'company');
    const minVersion = parseMinVersion(body.consistency);
    const userId = principalRef(body.principal);
    return { body, companyId, minVersion, userId };
  }

  return {
    /** Returns synchronously on an L1 hit, so the hot path allocates no promise. */
    check(rawBody: unknown): CheckAnswer | Promise<CheckAnswer> {
      const { body, companyId, minVersion, userId } = envelope(rawBody, CHECK_KEYS);
      // The envelope has refused unknown keys of the body already (CHECK_KEYS holds the question's too).
      const question = parseQuestion(catalog, body, '', null);
      const entry = abilityFor(companyId, userId, minVersion);
      return entry instanceof Promise ? entry.then((e) => checkAnswer(catalog, e, question, companyId)) : checkAnswer(catalog, entry, question, companyId);
    },

    /**
     * One decision on a question already parsed (forward-auth, AuthZEN): the same ability
     * (minVersion floor, 503 when the store cannot answer) and decide() as check(), and like
     * it synchronous on an L1 hit.
     */
    decideParsed(companyId: string, userId: string, minVersion: bigint | undefined, question: CheckQuestion): CheckAnswer | Promise<CheckAnswer> {
      const entry = abilities.get(companyId, userId, minVersion);
      return entry instanceof Promise ? entry.then((e) => checkAnswer(catalog, e, question, companyId)) : checkAnswer(catalog, entry, question, companyId);
    },

    /** Several parsed questions for one principal, answered from one version. */
    async decideAll(companyId: string, userId: string, minVersion: bigint | undefined, questions: readonly CheckQuestion[]): Promise<BatchAnswer> {
      const entry = await abilities.get(companyId, userId, minVersion);
      return { version: entry.versionText, results: questions.map((q) => decide(catalog, entry.ability, entry.projects, q, entry.standing, companyId)) };
    },

    /** The principal's ability, for answers built from many decisions (AuthZEN search). */
    ability: (companyId: string, userId: string, minVersion: bigint | undefined) => abilities.get(companyId, userId, minVersion),

    async batch(rawBody: unknown): Promise<BatchAnswer> {
      const { body, companyId, minVersion, userId } = envelope(rawBody, BATCH_KEYS);
      const { checks } = body;
      if (!Array.isArray(checks) || checks.length < 1 || checks.length > MAX_BATCH) {
        return invalid(`checks must be an array of 1 to ${MAX_BATCH} checks`, 'checks');
      }
      const questions = checks.map((item, i) => parseQuestion(catalog, item, `checks.${i}`));
      const entry = await abilityFor(companyId, userId, minVersion);
      return { version: entry.versionText, results: questions.map((q) => decide(catalog, entry.ability, entry.projects, q, entry.standing, companyId)) };
    },

    /** Compares If-None-Match before exporting: an unchanged principal costs an L1 lookup, not an export. */
    async rules(companyIdRaw: unknown, userIdRaw: unknown, format: unknown, minVersionRaw: unknown, ifNoneMatch?: string): Promise<RulesReply> {
      const companyId = parseId(companyIdRaw, 'company');
      const userId = parseUserId(userIdRaw, 'userId');
      if (format !== undefined && format !== 'raw' && format !== 'packed') invalid('format must be "raw" or "packed"', 'format');
      const minVersion = minVersionRaw === undefined ? undefined : parseMinVersion({ minVersion: minVersionRaw });
      const entry = await abilities.get(companyId, userId, minVersion);
      const etag = rulesEtag(entry.versionText, policiesTag, format === 'packed' ? 'packed' : 'raw');
      if (ifNoneMatchHits(ifNoneMatch, etag)) return { etag, body: null };
      const rules = exportedRules(catalog, entry.rules, entry.projects);
      return { etag, body: { version: entry.versionText, rules: format === 'packed' ? packRules(rules) : rules } };
    },

    async accessible(rawBody: unknown) {
      const { body, companyId, minVersion, userId } = envelope(rawBody, ACCESSIBLE_KEYS);
      const { action, resourceType } = body;
      if (typeof resourceType !== 'string' || !catalog.subjects[resourceType]) return invalid('resourceType must be a subject of the catalog', 'resourceType');
      const spec = catalog.subjects[resourceType]!;
      if (typeof action !== 'string' || !spec.actions.includes(action)) return invalid(`action must be an action of ${resourceType}`, 'action');
      const entry = await abilityFor(companyId, userId, minVersion);
      return { version: entry.versionText, ...accessibleOf(exportedRules(catalog, entry.rules, entry.projects), action, resourceType, spec.projectAttribute) };
    },
  };
}

export type CheckService = ReturnType<typeof createCheckService>;

/** One decision with the version it was taken at; a plain function, so an L1 hit allocates no closure. */
export function checkAnswer(catalog: Catalog, entry: PrincipalAbility, question: CheckQuestion, companyId: string): CheckAnswer {
  const decision = decide(catalog, entry.ability, entry.projects, question, entry.standing, companyId);
  return { allowed: decision.allowed, reason: decision.reason, version: entry.versionText };
}

const projectIdsCache = new WeakMap<PrincipalAbility, Map<string, readonly string[]>>();

/**
 * The registered projects the principal may `action`, sorted: the ids /v1/accessible
 * answers (every registered project when it answers all or a condition), each confirmed
 * by decide(), so a listed project is one /v1/check allows. An entry never changes, so the
 * list is kept with it.
 */
export function accessibleProjectIds(catalog: Catalog, entry: PrincipalAbility, action: string): readonly string[] {
  let byAction = projectIdsCache.get(entry);
  if (!byAction) projectIdsCache.set(entry, (byAction = new Map()));
  let ids = byAction.get(action);
  if (!ids) {
    const accessible = accessibleOf(exportedRules(catalog, entry.rules, entry.projects), action, 'Project', catalog.subjects.Project?.projectAttribute);
    const candidates = accessible.kind === 'none' ? [] : accessible.kind === 'some' ? accessible.ids : [...entry.projects];
    ids = candidates.filter((id) => decide(catalog, entry.ability, entry.projects, { action, resource: { type: 'Project', id } }).allowed).sort();
    byAction.set(action, ids);
  }
  return ids;
}

type MongoCondition = Record<string, unknown>;

/**
 * Which resources of a type the principal may act on, read from the exported rules (so it
 * agrees with a service deciding on them, and with /v1/check). CASL's rulesToCondition
 * flattens the rules (inverted ones included) into one condition tree; for Project, whose
 * ids Castellan knows, a tree of `id $in` lists is turned into the list itself.
 */
function accessibleOf(rules: CompiledRule[], action: string, resourceType: string, projectAttribute: string | undefined) {
  const ability = createMongoAbility(rules);
  const condition = rulesToCondition<typeof ability, MongoCondition, MongoCondition>(
    ability.rulesFor(action, resourceType),
    (rule) => (rule.inverted ? { $nor: [rule.conditions ?? {}] } : (rule.conditions ?? {})) as MongoCondition,
    {
      and: (conditions) => (conditions.length === 1 ? conditions[0]! : { $and: conditions }),
      or: (conditions) => (conditions.length === 1 ? conditions[0]! : { $or: conditions }),
      empty: () => ({}),
    },
  );
  if (condition === null) return { kind: 'none' as const };
  if (Object.keys(condition).length === 0) return { kind: 'all' as const };
  if (resourceType === 'Project' && projectAttribute) {
    const ids = idsOf(condition, projectAttribute);
    if (ids) return ids.length ? { kind: 'some' as const, ids } : { kind: 'none' as const };
  }
  return { kind: 'conditional' as const, filter: condition };
}

/** Ids named by a tree of `$or` over `{attr: {$in: [...]}}`; null when the tree says anything else. */
function idsOf(condition: MongoCondition, attribute: string): string[] | null {
  const ids = new Set<string>();
  const visit = (node: MongoCondition): boolean => {
    const keys = Object.keys(node);
    if (keys.length !== 1) return false;
    const value = node[keys[0]!];
    if (keys[0] === '$or' && Array.isArray(value)) return value.every((child) => visit(child as MongoCondition));
    if (keys[0] === attribute && isPlainObject(value) && Array.isArray(value.$in)) {
      for (const id of value.$in) ids.add(String(id));
      return true;
    }
    return false;
  };
  return visit(condition) ? [...ids].sort() : null;
}
