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
 * A new version is a new key, so instances of both versions can share one Redis while a
 * deployment rolls: neither reads the other's entries.
 */
const FORMAT = 'c2';

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
      if (!raw) return null;
      const parsed = JSON.parse(raw) as { v: string; r: CompiledRule[] };
      return { version: parsed.v, rules: parsed.r };
    },
    async set(companyId, userId, version, rules) {
      await redis.set(key(companyId, userId), JSON.stringify({ v: version, r: rules }), 'EX', TTL_SECONDS);
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
