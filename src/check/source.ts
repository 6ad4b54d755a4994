import type { Kysely } from 'kysely';
import { loadCompanyProjects, loadPrincipalFacts, principalFromRow, type CompanyProjects, type LoadedPrincipal } from '../store/principal-facts.js';
import type { Database } from '../store/schema.js';
import { readPolicyVersion } from '../store/versions.js';

/**
 * What the ability provider needs from the store: narrow reads, so tests and the bench can
 * wrap them. Declared here rather than beside the provider so this file builds against any
 * version of it (the bench builds older hot paths with the current wiring).
 */
export interface PrincipalSource {
  readVersion(companyId: string): Promise<string | null>;
  /**
   * The principal's facts in one snapshot, with the company's project ids unless the snapshot
   * is at `projectsUnlessAt` (null: always; left out: never). `versionRead`: the company's
   * version the caller has just read with readVersion, for this load (a replica's floor).
   */
  loadPrincipal(companyId: string, userId: string, projectsUnlessAt?: string | null, versionRead?: string | null): Promise<LoadedPrincipal>;
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

/** How one load routed to the replica went: answered there, or by the primary, and why. */
export type ReplicaOutcome = 'replica' | 'lagging' | 'failed' | 'unchecked';

/**
 * The check path's reads with a read replica (DATABASE_READ_URL): a load first reads the
 * company's version from the primary (a primary-key read), then goes to the replica, whose
 * answer counts only when its snapshot is at least at that version. Otherwise, the replica
 * behind or away, the primary answers the load: a replica's lag never shows as older data.
 * So a minVersion the primary has reached is answered from data at least that new, as
 * without a replica, and the floor checks of the ability provider stay as they are. A load
 * of a company the primary does not know goes to the primary too. The project list's loads
 * follow the newest version the primary gave for the company (the provider reads it just
 * before), and go to the primary when it was never read or was forgotten, past `maxCompanies`.
 */
export function replicaRoutedSource(primary: PrincipalSource, replica: PrincipalSource, options: { maxCompanies: number; onLoad?: (outcome: ReplicaOutcome) => void }): PrincipalSource {
  const primaryVersions = new Map<string, bigint>();
  const report = options.onLoad ?? (() => {});
  const noteVersion = (companyId: string, version: string | null) => {
    if (version === null) return;
    const seen = BigInt(version);
    const known = primaryVersions.get(companyId);
    if (known !== undefined && known >= seen) return;
    primaryVersions.delete(companyId);
    primaryVersions.set(companyId, seen);
    if (primaryVersions.size > options.maxCompanies) primaryVersions.delete(primaryVersions.keys().next().value!);
  };

  async function route<T extends { version: string | null }>(companyId: string, read: (source: PrincipalSource) => Promise<T>): Promise<T> {
    const floor = primaryVersions.get(companyId);
    if (floor === undefined) {
      report('unchecked');
      return read(primary);
    }
    let answer: T;
    try {
      answer = await read(replica);
    } catch {
      report('failed');
      return read(primary);
    }
    // A company the replica does not have yet (null) is behind too: the primary had a version for it.
    if (answer.version !== null && BigInt(answer.version) >= floor) {
      report('replica');
      return answer;
    }
    report('lagging');
    return read(primary);
  }

  async function readVersion(companyId: string): Promise<string | null> {
    const version = await primary.readVersion(companyId);
    noteVersion(companyId, version);
    return version;
  }

  return {
    readVersion,
    async loadPrincipal(companyId, userId, projectsUnlessAt, versionRead) {
      // A cold load reads nothing before it: the floor is read here, unless the caller just did.
      const version = versionRead !== undefined ? versionRead : await readVersion(companyId);
      // No such company on the primary: nothing the replica could add, and nothing to read again.
      if (version === null) {
        report('unchecked');
        return principalFromRow(undefined, { projectsUnlessAt });
      }
      return route(companyId, (source) => source.loadPrincipal(companyId, userId, projectsUnlessAt));
    },
    loadProjects: (companyId) => route(companyId, (source) => source.loadProjects(companyId)),
  };
}
