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

/** The check path's reads of PostgreSQL (or PGlite). */
export function storeSource(db: Kysely<Database>): PrincipalSource {
  return {
    readVersion: (companyId) => readPolicyVersion(db, companyId),
    loadPrincipal: (companyId, userId, projectsUnlessAt) => loadPrincipalFacts(db, companyId, userId, { projectsUnlessAt }),
    loadProjects: (companyId) => loadCompanyProjects(db, companyId),
  };
}
