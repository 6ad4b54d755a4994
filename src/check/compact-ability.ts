import { detectSubjectType, type MongoAbility } from '@casl/ability';
import type { CompiledRule } from '../policy/compiler.js';
import { LruCache } from './lru.js';

/** What a decision asks of an ability: CASL's relevantRuleFor. A MongoAbility is one. */
export interface RuleFinder {
  relevantRuleFor(action: string, subject: object, field?: string): { readonly inverted: boolean; readonly reason?: string | undefined } | null;
}

/**
 * One project-scoped rule without its project list: `{attribute: {$in: ids}}` is the only
 * condition it may have, so what differs from one principal to the next is the list alone.
 * Shared by every principal whose rules hold it (all holders of a role, all members of a team).
 */
interface Template {
  readonly action: string;
  /** CASL's `manage`: any action. */
  readonly anyAction: boolean;
  readonly subject: string;
  readonly fields: readonly string[] | undefined;
  readonly inverted: boolean;
  readonly reason: string | undefined;
  readonly attribute: string;
  /** The rule as it came, its conditions left out (null in their place): the rule is given back key for key. */
  readonly shape: Readonly<Record<string, unknown>>;
}

/** The project ids of a group of rules: sorted (searched by halves) or, if they came unsorted, a Set. */
type IdList = readonly string[] | ReadonlySet<string>;

/**
 * Marks the project list of the first group (the compiler's `view Project` of every project
 * the principal holds a role on) when it is exactly the sorted union of the lists after it:
 * nothing is stored, and a lookup asks those lists.
 */
const UNION_OF_LATER = 0;

/**
 * The rules every principal with the same company role, flags and leading rules shares: a
 * CASL ability compiled once. Answers after the principal's own project rules, which come
 * last in the compiler's order and so win in CASL's.
 */
export interface Prefix {
  readonly rules: readonly CompiledRule[];
  readonly ability: MongoAbility | null;
}

/**
 * A principal's ability as little more than references: the shared prefix, then its
 * project rules as a flat list of [templates, ids, templates, ids, ...] (a flat array
 * rather than an object per group: about 40 bytes less per group). Decides as CASL would
 * on the same rules, rule for rule (test/check/compact-ability.test.ts holds it to CASL):
 * the later a rule, the higher its priority; a rule applies when its action (or `manage`),
 * subject (or `all`), field and conditions match; the first that applies decides.
 */
export class CompactAbility implements RuleFinder {
  constructor(
    readonly prefix: Prefix,
    readonly groups: readonly unknown[],
  ) {}

  relevantRuleFor(action: string, object: object, field?: string): { readonly inverted: boolean; readonly reason?: string | undefined } | null {
    const groups = this.groups;
    if (groups.length > 0) {
      const type = detectSubjectType(object as never) as unknown as string;
      for (let g = groups.length - 2; g >= 0; g -= 2) {
        const templates = groups[g] as readonly Template[];
        for (let t = templates.length - 1; t >= 0; t--) {
          const rule = templates[t]!;
          if (rule.subject !== type && rule.subject !== 'all') continue;
          if (rule.action !== action && !rule.anyAction) continue;
          if (rule.fields !== undefined && (field ? !rule.fields.includes(field) : rule.inverted)) continue;
          if (this.#matches(g, rule, object)) return rule;
        }
      }
    }
    return this.prefix.ability === null ? null : this.prefix.ability.relevantRuleFor(action, object as never, field);
  }

  /** CASL's matchesConditions with the check path's `$in` matcher (abilities.ts, inListMatcher). */
  #matches(group: number, rule: Template, object: object): boolean {
    if (!object || typeof object === 'string' || typeof object === 'function') return !rule.inverted;
    const value = (object as Record<string, unknown>)[rule.attribute];
    if (Array.isArray(value)) return value.some((v) => this.#holds(group, v));
    return this.#holds(group, value);
  }

  #holds(group: number, value: unknown): boolean {
    if (typeof value !== 'string') return false;
    const ids = this.groups[group + 1] as IdList | typeof UNION_OF_LATER;
    if (ids === UNION_OF_LATER) {
      for (let g = group + 3; g < this.groups.length; g += 2) if (inList(this.groups[g] as IdList, value)) return true;
      return false;
    }
    return inList(ids, value);
  }

  /** The rules as they came, for the rules endpoint, /v1/accessible and L2; rebuilt per call (off the warm path). */
  get rules(): CompiledRule[] {
    const rules = [...this.prefix.rules];
    for (let g = 0; g < this.groups.length; g += 2) {
      const ids = this.groups[g + 1] as IdList | typeof UNION_OF_LATER;
      const list = ids === UNION_OF_LATER ? unionOf(this.groups, g + 3) : Array.isArray(ids) ? ids : [...(ids as ReadonlySet<string>)];
      for (const template of this.groups[g] as readonly Template[]) {
        const rule: Record<string, unknown> = {};
        for (const key in template.shape) rule[key] = key === 'conditions' ? { [template.attribute]: { $in: list } } : template.shape[key];
        rules.push(rule as unknown as CompiledRule);
      }
    }
    return rules;
  }
}

function inList(ids: IdList, value: string): boolean {
  if (!Array.isArray(ids)) return (ids as ReadonlySet<string>).has(value);
  const list = ids as readonly string[];
  if (list.length <= 8) return list.includes(value);
  let low = 0;
  let high = list.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const id = list[middle]!;
    if (id === value) return true;
    if (id < value) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

/** The sorted union of the lists of groups[from], groups[from + 2], ... (the compiler's `[...new Set(ids)].sort()`). */
function unionOf(groups: readonly unknown[], from: number): string[] {
  const all = new Set<string>();
  for (let g = from; g < groups.length; g += 2) for (const id of groups[g] as IdList) all.add(id);
  return [...all].sort();
}

/** The template of a rule whose only condition is `{attribute: {$in: [strings]}}`, or null for any other rule. */
function templateOf(rule: CompiledRule): { template: Template; ids: readonly string[]; key: string } | null {
  const raw = rule as unknown as Record<string, unknown>;
  const { action, subject, fields, conditions, inverted, reason } = raw;
  if (typeof action !== 'string' || typeof subject !== 'string' || subject === '') return null;
  if (reason !== undefined && typeof reason !== 'string') return null;
  // CASL reads fields as patterns where they hold `*`; such rules stay with CASL.
  if (fields !== undefined && (!Array.isArray(fields) || fields.length === 0 || !fields.every((f) => typeof f === 'string' && !f.includes('*')))) return null;
  if (typeof conditions !== 'object' || conditions === null || Array.isArray(conditions)) return null;
  const list = inListOf(conditions);
  if (list === null) return null;
  const { attribute, ids } = list;
  const shape: Record<string, unknown> = {};
  for (const key in raw) shape[key] = key === 'conditions' ? null : raw[key];
  const template: Template = {
    action,
    anyAction: action === 'manage',
    subject,
    fields: fields as string[] | undefined,
    inverted: Boolean(inverted),
    reason: reason as string | undefined,
    attribute,
    shape,
  };
  return { template, ids, key: JSON.stringify([shape, attribute]) };
}

/**
 * The one condition shape both the check path's `$in` matcher (abilities.ts) and compact
 * entries take: `{attribute: {$in: [strings]}}`, one attribute without a dot. Shared, so the
 * two never disagree on which rules they handle.
 */
export function inListOf(conditions: object): { attribute: string; ids: readonly string[] } | null {
  const attributes = Object.keys(conditions);
  if (attributes.length !== 1 || attributes[0]!.includes('.')) return null;
  const attribute = attributes[0]!;
  const operand = (conditions as Record<string, unknown>)[attribute];
  if (typeof operand !== 'object' || operand === null || Object.keys(operand).length !== 1) return null;
  const ids = (operand as { $in?: unknown }).$in;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) return null;
  return { attribute, ids };
}

/** Whether `ids` is exactly the sorted union of the later runs' lists (checked without sorting: thousands of grants). */
function isUnionOf(ids: readonly string[], later: readonly Run[]): boolean {
  if (later.length === 0 || !isSorted(ids)) return false;
  const union = new Set<string>();
  for (const run of later) for (const id of run.ids) union.add(id);
  return union.size === ids.length && ids.every((id) => union.has(id));
}

const isSorted = (ids: readonly string[]) => ids.every((id, i) => i === 0 || ids[i - 1]! < id);
const sameIds = (a: readonly string[], b: readonly string[]) => a === b || (a.length === b.length && a.every((id, i) => id === b[i]));

/**
 * Builds compact abilities and shares what principals have in common, each table bounded
 * (a value that falls out stays with the entries holding it, only no longer shared):
 * prefixes by their rules, template lists by their templates, project lists per company by
 * their ids, and every project id is the company's own string rather than a copy per principal.
 */
export function createCompactAbilities(options: { maxShared: number; createAbility: (rules: CompiledRule[]) => MongoAbility }) {
  const prefixes = new LruCache<Prefix>(options.maxShared);
  const templateLists = new LruCache<readonly Template[]>(options.maxShared);
  // Small: most lists are one principal's direct grants and never come again; a team's do,
  // and CLOCK keeps those that are asked for.
  const idLists = new LruCache<readonly string[]>(SHARED_ID_LISTS);
  const canonicalIds = new WeakMap<ReadonlySet<string>, Map<string, string>>();

  function prefixOf(rules: CompiledRule[]): Prefix {
    if (rules.length === 0) return EMPTY_PREFIX;
    const key = JSON.stringify(rules);
    let prefix = prefixes.get('', key);
    if (prefix === undefined) prefixes.set('', key, (prefix = { rules, ability: options.createAbility(rules) }));
    return prefix;
  }

  function canonical(projects: ReadonlySet<string>): Map<string, string> {
    let ids = canonicalIds.get(projects);
    if (ids === undefined) {
      ids = new Map();
      for (const id of projects) ids.set(id, id);
      canonicalIds.set(projects, ids);
    }
    return ids;
  }

  function idListOf(companyId: string, ids: readonly string[], projects: ReadonlySet<string>): IdList {
    if (!isSorted(ids)) return new Set(ids);
    const key = ids.length <= MAX_SHARED_LIST ? JSON.stringify(ids) : null;
    const held = key === null ? undefined : idLists.get(companyId, key);
    if (held !== undefined) return held;
    const own = canonical(projects);
    const list = ids.map((id) => own.get(id) ?? id);
    if (key !== null) idLists.set(companyId, key, list);
    return list;
  }

  function templatesOf(run: Run): readonly Template[] {
    const key = JSON.stringify(run.keys);
    let templates = templateLists.get('', key);
    if (templates === undefined) templateLists.set('', key, (templates = run.templates));
    return templates;
  }

  return {
    /** The compact form of `rules`: a principal's rules in one company whose registered projects are `projects`. */
    build(companyId: string, rules: readonly CompiledRule[], projects: ReadonlySet<string>): [Prefix, unknown[]] {
      // The longest run of trailing rules that fit a template; everything before it is the shared prefix.
      let start = rules.length;
      const parsed: Array<NonNullable<ReturnType<typeof templateOf>>> = [];
      for (; start > 0; start--) {
        const found = templateOf(rules[start - 1]!);
        if (found === null) break;
        parsed.push(found);
      }
      parsed.reverse();
      // Consecutive rules over the same project list form a group.
      const runs: Run[] = [];
      for (const { template, ids, key } of parsed) {
        const last = runs.at(-1);
        if (last && sameIds(last.ids, ids)) {
          last.keys.push(key);
          last.templates.push(template);
        } else {
          runs.push({ keys: [key], templates: [template], ids });
        }
      }
      const groups: unknown[] = [];
      runs.forEach((run, r) => {
        groups.push(templatesOf(run));
        groups.push(r === 0 && isUnionOf(run.ids, runs.slice(1)) ? UNION_OF_LATER : idListOf(companyId, run.ids, projects));
      });
      return [prefixOf(rules.slice(0, start)), groups];
    },
  };
}

interface Run {
  keys: string[];
  templates: Template[];
  ids: readonly string[];
}

const EMPTY_PREFIX: Prefix = { rules: [], ability: null };
const SHARED_ID_LISTS = 4096;
/** Longer lists are not looked for among the shared ones: their key would cost as much as the list. */
const MAX_SHARED_LIST = 32;

export type CompactAbilities = ReturnType<typeof createCompactAbilities>;
