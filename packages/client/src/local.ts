import type { MongoAbility } from '@casl/ability';
import type { CheckAnswer, CheckRequest, RulesAnswer } from './types.js';

type Casl = typeof import('@casl/ability');

export interface CachedAbility {
  ability: MongoAbility;
  version: bigint;
  versionText: string;
  etag: string | null;
  /** When the server last confirmed (200 or 304) that these rules are current. */
  checkedAt: number;
}

/** The rules endpoint with If-None-Match: null when the tag still holds (304). */
export type FetchRules = (company: string, userId: string, etag: string | null, minVersion: string | undefined) => Promise<{ answer: RulesAnswer; etag: string | null } | null>;

export interface LocalAbilitiesOptions {
  fetchRules: FetchRules;
  refreshMs: number;
  maxEntries: number;
  now?: () => number;
  loadCasl?: () => Promise<Casl>;
}

let casl: Promise<Casl> | undefined;
/** @casl/ability is an optional peer: loaded on the first local evaluation only. */
function defaultLoadCasl(): Promise<Casl> {
  casl ??= import('@casl/ability').catch((error: unknown) => {
    casl = undefined;
    throw new Error('local evaluation needs the peer dependency @casl/ability (npm install @casl/ability)', { cause: error });
  });
  return casl;
}

/**
 * Principals' abilities built from the exported rules, kept per (company, user) in a bounded
 * LRU. An entry is used as is while it was confirmed within `refreshMs`, is at least as new
 * as any version of its company this client has seen in an answer, and meets the caller's
 * minVersion; otherwise it is revalidated with If-None-Match (a 304 costs no rules).
 * Concurrent callers share one revalidation. Failures are never covered by the old entry.
 */
export function createLocalAbilities(options: LocalAbilitiesOptions) {
  const now = options.now ?? (() => performance.now());
  const loadCasl = options.loadCasl ?? defaultLoadCasl;
  const entries = new Map<string, CachedAbility>();
  const loading = new Map<string, Promise<CachedAbility>>();
  const newest = new Map<string, bigint>();
  const keyOf = (company: string, userId: string) => `${company}\u0000${userId}`;

  const isCurrent = (entry: CachedAbility, company: string, minVersion: bigint | undefined) =>
    now() - entry.checkedAt < options.refreshMs && entry.version >= (newest.get(company) ?? 0n) && (minVersion === undefined || entry.version >= minVersion);

  function remember(key: string, entry: CachedAbility): void {
    entries.delete(key);
    entries.set(key, entry);
    while (entries.size > options.maxEntries) entries.delete(entries.keys().next().value!);
  }

  async function revalidate(key: string, company: string, userId: string, minVersion: bigint | undefined): Promise<CachedAbility> {
    const held = entries.get(key);
    const fetched = await options.fetchRules(company, userId, held?.etag ?? null, minVersion?.toString());
    if (fetched === null && held) {
      held.checkedAt = now();
      remember(key, held);
      return held;
    }
    if (fetched === null) throw new Error('Castellan answered 304 to rules this client does not hold');
    const { createMongoAbility } = await loadCasl();
    const entry: CachedAbility = {
      ability: createMongoAbility(fetched.answer.rules as never),
      version: BigInt(fetched.answer.version),
      versionText: fetched.answer.version,
      etag: fetched.etag,
      checkedAt: now(),
    };
    observe(company, entry.versionText);
    remember(key, entry);
    return entry;
  }

  /** A version of the company seen in any answer: older entries of that company are revalidated before use. */
  function observe(company: string, version: string): void {
    const value = BigInt(version);
    if (value > (newest.get(company) ?? 0n)) newest.set(company, value);
  }

  return {
    observe,
    peek: (company: string, userId: string): CachedAbility | undefined => entries.get(keyOf(company, userId)),
    get(company: string, userId: string, minVersion?: bigint): Promise<CachedAbility> {
      const key = keyOf(company, userId);
      const entry = entries.get(key);
      if (entry && isCurrent(entry, company, minVersion)) {
        remember(key, entry);
        return Promise.resolve(entry);
      }
      let pending = loading.get(key);
      if (!pending) {
        pending = revalidate(key, company, userId, minVersion).finally(() => loading.delete(key));
        loading.set(key, pending);
      }
      // A revalidation already running for an older minVersion may not satisfy this one.
      return minVersion === undefined ? pending : pending.then((got) => (got.version >= minVersion ? got : revalidate(key, company, userId, minVersion)));
    },
    get size() {
      return entries.size;
    },
  };
}

/** Replaces the compiler's `{projectId}` in a grant's reason with the project its rule names. */
function reasonOf(rule: { reason?: string | undefined; conditions?: unknown }, object: Record<string, unknown>): string | undefined {
  if (!rule.reason?.includes('{projectId}')) return rule.reason;
  const [attribute, value] = Object.entries((rule.conditions ?? {}) as Record<string, unknown>)[0] ?? [];
  const project = typeof value === 'string' ? value : attribute === undefined ? undefined : object[attribute];
  return rule.reason.replace('{projectId}', String(project ?? ''));
}

/**
 * The decision /v1/check takes, on the exported rules: on the resource as an object
 * (`subject(type, {...attributes, id})`), never on the bare type. The exported rules carry
 * the company's registered projects as conditions, so D15 holds here too.
 */
export function decideLocally(ability: MongoAbility, subject: Casl['subject'], request: CheckRequest): { allowed: boolean; reason: string } {
  const { action, resource, field } = request;
  const object: Record<string, unknown> = { ...resource.attributes };
  if (resource.id !== undefined) object.id = resource.id;
  const rule = ability.relevantRuleFor(action, subject(resource.type, object), field);
  if (rule === null) return { allowed: false, reason: `no rule allows ${action} ${resource.type}${field ? ` (${field})` : ''}` };
  return { allowed: !rule.inverted, reason: reasonOf(rule, object) ?? (rule.inverted ? 'a rule forbids it' : 'a rule allows it') };
}

export async function localAnswer(entry: CachedAbility, request: CheckRequest, loadCasl: () => Promise<Casl> = defaultLoadCasl): Promise<CheckAnswer> {
  const { subject } = await loadCasl();
  return { ...decideLocally(entry.ability, subject, request), version: entry.versionText };
}
