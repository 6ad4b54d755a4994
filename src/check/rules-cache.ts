import type { CompiledRule } from '../policy/compiler.js';
import { isPlainObject } from './decide.js';
import type { RedisCommands } from './redis.js';

/**
 * L2: each principal's compiled rules, packed, stamped with the company policy version they
 * were compiled at; and each company's registered project ids, stamped the same way, once per
 * company rather than in every principal's entry.
 */
export interface RulesCache {
  get(companyId: string, userId: string): Promise<{ version: string; rules: CompiledRule[] } | null>;
  set(companyId: string, userId: string, version: string, rules: CompiledRule[]): Promise<void>;
  getProjects(companyId: string): Promise<{ version: string; ids: string[] } | null>;
  setProjects(companyId: string, version: string, ids: readonly string[]): Promise<void>;
}

const TTL_SECONDS = 3600;

/**
 * The stored form's version, in every principal key. Rules are stored as compiled, so they come
 * back key for key: an entry built from L2 then shares its company role's prefix and its
 * templates with entries built from the store. (Version 1 used CASL's packRules, whose unpacked
 * rules carry `action`/`subject` as arrays and `inverted: false`: they matched no template, and
 * every principal found in L2 held a CASL ability of its own, 20 KB or so, against 0.6 KB.)
 * Version 3 stores each project list once (see `encode`); version 2 repeated it in every rule
 * of its role. A new version is a new key, so instances of both versions can share one Redis
 * while a deployment rolls: neither reads the other's entries.
 */
const FORMAT = 'c3';

/**
 * The compiler gives every rule of one role on its projects the same list: a principal with
 * 5,000 grants of a role with five permissions held five copies of 5,000 ids in JSON, and
 * writing them cost more than compiling them. Stored once each (lists shared by identity),
 * they come back shared too.
 */
function encode(version: string, rules: readonly CompiledRule[]): string {
  const lists: string[][] = [];
  const indexes = new Map<readonly string[], number>();
  const stored = rules.map((rule) => {
    if (!rule.conditions) return rule;
    const conditions: Record<string, { $in: number }> = {};
    for (const [attribute, { $in }] of Object.entries(rule.conditions)) {
      let index = indexes.get($in);
      if (index === undefined) indexes.set($in, (index = lists.push($in) - 1));
      conditions[attribute] = { $in: index };
    }
    return { ...rule, conditions };
  });
  return JSON.stringify({ v: version, r: stored, l: lists });
}

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** A condition's attribute, as the catalog names them (a subject's projectAttribute). */
const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9]*$/;

/** Whether `rule` has the shape the compiler writes, its `$in` operands being indexes into `lists`. */
function isStoredRule(rule: unknown, lists: number): rule is CompiledRule {
  if (!isPlainObject(rule) || typeof rule.subject !== 'string' || typeof rule.reason !== 'string') return false;
  if (typeof rule.action !== 'string' && !isStringList(rule.action)) return false;
  if (rule.fields !== undefined && !isStringList(rule.fields)) return false;
  if (rule.inverted !== undefined && typeof rule.inverted !== 'boolean') return false;
  if (rule.conditions === undefined) return true;
  if (!isPlainObject(rule.conditions)) return false;
  return Object.entries(rule.conditions).every(([attribute, operand]) => {
    if (!ATTRIBUTE.test(attribute)) return false;
    if (!isPlainObject(operand) || Object.keys(operand).length !== 1) return false;
    const index = operand.$in;
    return Number.isInteger(index) && (index as number) >= 0 && (index as number) < lists;
  });
}

/**
 * The rules as compiled, from their stored form; null for anything else (a value no instance
 * of this version wrote): what L2 gives back becomes an ability, so a value of another shape
 * is a miss, loaded from the store, rather than rules read some other way.
 */
function decode(raw: string): { version: string; rules: CompiledRule[] } | null {
  let stored: unknown;
  try {
    stored = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isPlainObject(stored) || typeof stored.v !== 'string' || !Array.isArray(stored.r) || !Array.isArray(stored.l)) return null;
  const lists = stored.l as unknown[];
  if (!lists.every(isStringList) || !stored.r.every((rule) => isStoredRule(rule, lists.length))) return null;
  const rules = stored.r as CompiledRule[];
  for (const rule of rules) {
    if (!rule.conditions) continue;
    for (const operand of Object.values(rule.conditions) as Array<{ $in: unknown }>) operand.$in = lists[operand.$in as number];
  }
  return { version: stored.v, rules };
}

export function createRedisRulesCache(redis: RedisCommands, keyPrefix: string): RulesCache {
  // No hash tags: in a Cluster each principal's key lands on the slot of its whole name, so
  // the entries spread over every master; every command here names one key.
  // Company ids are [A-Za-z0-9._:@-]: the first space ends the company, and the user id, which may
  // hold any character (spaces included), is the rest. So no two principals share a key.
  const key = (companyId: string, userId: string) => `${keyPrefix}${FORMAT}:rules:${companyId} ${userId}`;
  const projectsKey = (companyId: string) => `${keyPrefix}projects:${companyId}`;
  return {
    async get(companyId, userId) {
      const raw = await redis.get(key(companyId, userId));
      return raw ? decode(raw) : null;
    },
    async set(companyId, userId, version, rules) {
      await redis.set(key(companyId, userId), encode(version, rules), 'EX', TTL_SECONDS);
    },
    async getProjects(companyId) {
      const raw = await redis.get(projectsKey(companyId));
      if (!raw) return null;
      const parsed = JSON.parse(raw) as { v: string; p: string[] };
      return { version: parsed.v, ids: parsed.p };
    },
    async setProjects(companyId, version, ids) {
      await redis.set(projectsKey(companyId), JSON.stringify({ v: version, p: ids }), 'EX', TTL_SECONDS);
    },
  };
}
