import type { Kysely } from 'kysely';
import { loadCompanyProjects, loadPrincipalFacts, type CompanyProjects, type LoadedPrincipal } from '../store/principal-facts.js';
import type { Database } from '../store/schema.js';
import { readPolicyVersion } from '../store/versions.js';

/**
 * What the ability provider needs from the store: narrow reads, so tests and the bench can
 * wrap them. Declared here rather than beside the provider so this file builds against any
 * version of it (the bench builds older hot paths with the current wiring).
 */
export interface PrincipalSource {
  readVersion(companyId: string): Promise<string | null>;
  /** The principal's facts in one snapshot, with the company's project ids unless the snapshot is at `projectsUnlessAt` (null: always; left out: never). */
  loadPrincipal(companyId: string, userId: string, projectsUnlessAt?: string | null): Promise<LoadedPrincipal>;
  /** The company's project ids and the version they were read at, in one snapshot. */
  loadProjects(companyId: string): Promise<CompanyProjects>;
}

/** A check-path read that did not answer in time: treated like PostgreSQL being unreachable. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`the policy store did not answer within ${timeoutMs} ms`);
  }
}

/**
 * Rejects when `read` has not settled within `ms`. The read itself goes on (its connection
 * stays busy until the store answers or the connection drops); its late result is dropped.
 */
function withDeadline<T>(read: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreTimeoutError(ms)), ms);
    read.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * The check path's reads of PostgreSQL (or PGlite). With `timeoutMs`, a read that hangs (a
 * stalled network, a half-open connection: TCP may take many minutes to notice) fails after
 * that long, so the check answers from its cache within CACHE_MAX_DEGRADED_MS, or 503, instead
 * of waiting with every other check of the principal that joined its load.
 */
export function storeSource(db: Kysely<Database>, options: { timeoutMs?: number } = {}): PrincipalSource {
  const { timeoutMs } = options;
  const bounded = <T>(read: Promise<T>): Promise<T> => (timeoutMs ? withDeadline(read, timeoutMs) : read);
  return {
    readVersion: (companyId) => bounded(readPolicyVersion(db, companyId)),
    loadPrincipal: (companyId, userId, projectsUnlessAt) => bounded(loadPrincipalFacts(db, companyId, userId, { projectsUnlessAt })),
    loadProjects: (companyId) => bounded(loadCompanyProjects(db, companyId)),
  };
}
