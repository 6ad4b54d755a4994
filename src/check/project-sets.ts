import { LruCache } from './lru.js';

/** A company's registered project ids (D15) at one policy version. */
export interface ProjectSet {
  readonly version: string;
  readonly ids: ReadonlySet<string>;
}

/** The projects of a company id that was never used. */
export const NO_PROJECTS: ReadonlySet<string> = new Set();

/**
 * The newest project set seen per company, so that every principal of a company at one
 * version holds the same Set: a principal's entry costs a reference, not a copy (issue 16,
 * memory per principal). Bounded like L1; a set that falls out is still held by the entries
 * that use it, only no longer shared with the next ones.
 */
export function createProjectSets(maxCompanies: number) {
  const newest = new LruCache<ProjectSet>(maxCompanies);
  return {
    newest: (companyId: string): ProjectSet | undefined => newest.peek(companyId, ''),
    at(companyId: string, version: string): ReadonlySet<string> | undefined {
      const held = newest.get(companyId, '');
      return held?.version === version ? held.ids : undefined;
    },
    /** The one Set for the company at `version`: the one held already, else one made of `ids` (kept when it is the newest). */
    share(companyId: string, version: string, ids: Iterable<string>): ReadonlySet<string> {
      const held = newest.peek(companyId, '');
      if (held?.version === version) return held.ids;
      const set: ReadonlySet<string> = new Set(ids);
      if (held === undefined || BigInt(version) > BigInt(held.version)) newest.set(companyId, '', { version, ids: set });
      return set;
    },
  };
}

export type ProjectSets = ReturnType<typeof createProjectSets>;
