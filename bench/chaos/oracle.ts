/**
 * The chaos harness's judge: every check answer against the ground truth. Pure: the
 * harness feeds it the seed, the grant changes read back from the audit log (written in
 * the same transaction as each write, so exact even for writes whose answer was lost),
 * the times writes were acknowledged, and when each instance could not reach PostgreSQL.
 */

/** One check as the load generator saw it. status 0: no HTTP answer (timeout, connection refused or reset). */
export interface Answer {
  instance: number;
  company: string;
  user: string;
  /** Date.now() when the request was sent and when its answer was read. */
  sentAt: number;
  receivedAt: number;
  status: number;
  allowed?: boolean;
  version?: bigint;
  minVersion?: bigint;
}

export interface GrantChange {
  version: bigint;
  user: string;
  granted: boolean;
}

export interface CompanyTruth {
  seedVersion: bigint;
  /** Users allowed at the seed version. */
  seedGranted: ReadonlySet<string>;
  /** Every grant change after the seed, per user, by version (from the audit log). */
  changes: ReadonlyMap<string, readonly GrantChange[]>;
  /** Newest version the truth covers: versions beyond it were not committed when it was read. */
  latest: bigint;
}

/** A write's acknowledgement: its version was committed by `at` (when the harness read the answer). */
export interface Ack {
  version: bigint;
  at: number;
}

export interface Bounds {
  /** CACHE_MAX_STALENESS_MS: how old an answer may be with PostgreSQL reachable. */
  stalenessMs: number;
  /** CACHE_MAX_DEGRADED_MS: how old, counted from its last confirmation, while it is not. */
  degradedMs: number;
}

export type Verdict = 'correct' | 'wrong-allow' | 'wrong-deny' | 'unknown-version';

export interface Judgement {
  verdict: Verdict;
  /** Older than the newest version acknowledged before the check was sent (allowed within the bound). */
  stale: boolean;
  /** How long before the check was sent a newer version than the answer's had been acknowledged (0: not stale). */
  staleForMs: number;
  /** Older than the check's minVersion. */
  belowMinVersion: boolean;
  /** Why, for the log of findings. */
  why?: string;
}

/** How many items from the start satisfy `within`, for items sorted so that those that do come first (a binary search). */
function countUpTo<T>(items: readonly T[], within: (item: T) => boolean): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (within(items[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether `user` is allowed at `version`: undefined when the truth does not cover that version. */
export function allowedAt(truth: CompanyTruth, user: string, version: bigint): boolean | undefined {
  if (version < truth.seedVersion || version > truth.latest) return undefined;
  const changes = truth.changes.get(user) ?? [];
  const lo = countUpTo(changes, (change) => change.version <= version); // the last change at or before `version` is lo - 1
  return lo === 0 ? truth.seedGranted.has(user) : changes[lo - 1]!.granted;
}

/** The newest version acknowledged at or before `t`. One writer per company, one write at a time: acks come in rising order of time and version. */
export function newestAckedBy(acks: readonly Ack[], t: number): bigint | undefined {
  const lo = countUpTo(acks, (ack) => ack.at <= t);
  return lo === 0 ? undefined : acks[lo - 1]!.version;
}

/** When the first version newer than `version` was acknowledged, if by `t`. */
export function firstNewerAckedBy(acks: readonly Ack[], version: bigint, t: number): number | undefined {
  const first = acks[countUpTo(acks, (ack) => ack.version <= version)];
  return first !== undefined && first.at <= t ? first.at : undefined;
}

/** Half-open windows [from, to) during which an instance could not reach PostgreSQL (to: Infinity while it lasts). */
export type Windows = ReadonlyArray<{ from: number; to: number }>;

/**
 * How old an answer may be: CACHE_MAX_STALENESS_MS, or the larger of the two bounds when
 * the instance may have answered degraded (PostgreSQL away at some point while the check was
 * in flight). An entry last confirmed at c is answered until c + bound at most, and a write
 * acknowledged at a committed after c (else the confirmation would have seen it), so an
 * answer older than a write acknowledged before (sent - bound) breaks the promise.
 */
export function boundFor(bounds: Bounds, pgAway: Windows, sentAt: number, receivedAt: number): number {
  const degraded = pgAway.some((w) => w.from <= receivedAt && sentAt < w.to);
  return degraded ? Math.max(bounds.stalenessMs, bounds.degradedMs) : bounds.stalenessMs;
}

export function judge(answer: Answer, truth: CompanyTruth, acks: readonly Ack[], bounds: Bounds, pgAway: Windows): Judgement | null {
  if (answer.status !== 200 || answer.version === undefined || answer.allowed === undefined) return null;
  const version = answer.version;
  const belowMinVersion = answer.minVersion !== undefined && version < answer.minVersion;
  const truthHere = allowedAt(truth, answer.user, version);
  if (truthHere === undefined) return { verdict: 'unknown-version', stale: false, staleForMs: 0, belowMinVersion, why: `version ${version} is not in the truth (seed ${truth.seedVersion}, latest ${truth.latest})` };
  const newerAt = firstNewerAckedBy(acks, version, answer.sentAt);
  const stale = newerAt !== undefined;
  const staleForMs = newerAt === undefined ? 0 : answer.sentAt - newerAt;
  const wrong = answer.allowed ? 'wrong-allow' : 'wrong-deny';
  if (truthHere !== answer.allowed) return { verdict: wrong, stale, staleForMs, belowMinVersion, why: `the truth at the answer's version ${version} is ${truthHere ? 'allow' : 'deny'}` };
  if (belowMinVersion) {
    // Data older than asked for: wrong whenever some version from minVersion up to what was committed decides otherwise.
    for (let v = answer.minVersion!; v <= truth.latest; v++) {
      if (allowedAt(truth, answer.user, v) !== answer.allowed) return { verdict: wrong, stale, staleForMs, belowMinVersion, why: `version ${version} is below minVersion ${answer.minVersion}, and version ${v} decides otherwise` };
    }
  }
  const bound = boundFor(bounds, pgAway, answer.sentAt, answer.receivedAt);
  const newestBound = newestAckedBy(acks, answer.sentAt - bound);
  if (newestBound !== undefined && version < newestBound) {
    const then = allowedAt(truth, answer.user, newestBound);
    if (then !== undefined && then !== answer.allowed) {
      return { verdict: wrong, stale, staleForMs, belowMinVersion, why: `version ${version} sent ${answer.sentAt - acks.find((a) => a.version === newestBound)!.at} ms after version ${newestBound} (which decides otherwise) was acknowledged; the bound is ${bound} ms` };
    }
  }
  return { verdict: 'correct', stale, staleForMs, belowMinVersion };
}

/** Rebuilds a company's truth from its seed and the audit entries of grant writes (target `grant:<project>/user:<id>`). */
export function truthFromAudit(seedVersion: bigint, seedGranted: ReadonlySet<string>, latest: bigint, rows: ReadonlyArray<{ version: bigint; action: string; target: string }>, projectId: string): CompanyTruth {
  const prefix = `grant:${projectId}/user:`;
  const changes: GrantChange[] = [];
  for (const row of rows) {
    if (!row.target.startsWith(prefix)) continue;
    if (row.action === 'project.grant.user.put') changes.push({ version: row.version, user: row.target.slice(prefix.length), granted: true });
    else if (row.action === 'project.grant.user.delete') changes.push({ version: row.version, user: row.target.slice(prefix.length), granted: false });
  }
  changes.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  const byUser = new Map<string, GrantChange[]>();
  for (const change of changes) {
    const list = byUser.get(change.user) ?? [];
    list.push(change);
    byUser.set(change.user, list);
  }
  return { seedVersion, seedGranted, changes: byUser, latest };
}
