import type { Kysely } from 'kysely';
import { loadCompanyProjects, loadPrincipalFacts } from '../store/principal-facts.js';
import type { Database } from '../store/schema.js';
import { readPolicyVersion } from '../store/versions.js';
import type { PrincipalSource } from './abilities.js';

/** The check path's reads of PostgreSQL (or PGlite). */
export function storeSource(db: Kysely<Database>): PrincipalSource {
  return {
    readVersion: (companyId) => readPolicyVersion(db, companyId),
    loadPrincipal: (companyId, userId, projectsUnlessAt) => loadPrincipalFacts(db, companyId, userId, { projectsUnlessAt }),
    loadProjects: (companyId) => loadCompanyProjects(db, companyId),
  };
}
