import type { CompiledRule } from '../policy/compiler.js';
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

/** The stored form: the version, the rules with each `$in` list as an index into `l`, and the lists. */
interface Stored {
  v: string;
  r: CompiledRule[];
  l: string[][];
}

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

/** The rules as compiled, from their stored form; null for anything else (a value no instance wrote). */
function decode(raw: string): { version: string; rules: CompiledRule[] } | null {
  const stored = JSON.parse(raw) as Stored;
  if (typeof stored?.v !== 'string' || !Array.isArray(stored.r) || !Array.isArray(stored.l)) return null;
  for (const rule of stored.r) {
    if (!rule.conditions) continue;
    for (const operand of Object.values(rule.conditions) as Array<{ $in: unknown }>) {
      const list = stored.l[operand.$in as number];
      if (!Array.isArray(list)) return null;
      operand.$in = list;
    }
  }
  return { version: stored.v, rules: stored.r };
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
