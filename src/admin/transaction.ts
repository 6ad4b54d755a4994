import type { Kysely, Transaction } from 'kysely';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { AdminCaller } from '../http/route.js';
import type { Policies } from '../policy/catalog.js';
import type { Database } from '../store/schema.js';
import { bumpPolicyVersion, lockCompany } from '../store/versions.js';
import type { EventActor, WebhookEvent } from '../webhooks/events.js';
import { assertActiveMember, assertCan, isAdmin, loadRights, type Caller, type CallerRights, type Need } from './context.js';
import { decisionGrid, describeLacking, gainedDecisions } from './escalation.js';

export interface AuditEntry {
  action: string;
  target: string;
  before?: unknown;
  after?: unknown;
}

/** What every company write may do, whoever makes it. */
export interface LockedWriteContext {
  trx: Transaction<Database>;
  /** Records one audit entry (D22); written in the same transaction, stamped with the write's version. */
  audit(entry: AuditEntry): void;
  /** Announces the change to the platform's webhook: written to the outbox in the same transaction (dropped without WEBHOOK_URL). */
  emit(event: WebhookEvent): void;
  /**
   * With `bump: 'on-change'`: call before the first change that can alter a decision.
   * It bumps the version once (the company is locked already); a no-op otherwise.
   */
  changing(): Promise<void>;
}

export interface WriteContext extends LockedWriteContext {
  rights: CallerRights;
}

/** Who the audit log names for a write. */
export interface AuditActor {
  id: string;
  /** The write carried the platform operator's credential. */
  operator: boolean;
  /** The caller's verified email, named in webhook events. */
  email?: string | undefined;
}

/** The audit log's actor for writes the platform operator makes without a user. */
export const OPERATOR_ACTOR = 'operator';

/** Where emitted events go: the webhook outbox, when WEBHOOK_URL is configured. */
export interface EventSink {
  /** Writes events in the write's transaction, after its audit entries. */
  append(trx: Transaction<Database>, companyId: string, version: string, actor: EventActor, events: readonly WebhookEvent[]): Promise<void>;
  /** Called after the commit: the delivery worker need not wait for its next poll. */
  committed(): void;
}

export interface WriteDeps {
  db: Kysely<Database>;
  policies: Policies;
  announce: (companyId: string, version: string) => Promise<void>;
  events?: EventSink | undefined;
}

/**
 * Who gets as far as the company's write lock, decided on the caller's rights read before
 * it is taken (see writeCompany). A necessary condition, never a sufficient one: the work
 * asserts again on the rights read under the lock.
 * - unset: any active member (strangers and inactive members get 404);
 * - a Need: the work's first assertion, when nothing read in the transaction decides it;
 * - a function: a first assertion with alternatives (edit or else invite);
 * - `anyone`: writes that strangers make by design (accepting an invitation).
 */
export type EarlyCheck = Need | ((rights: CallerRights) => void) | 'anyone';

export interface WriteOptions<P = undefined> {
  /**
   * When the company's policy version moves (which empties caches everywhere):
   * - `always` (default): every write of this kind can change a decision;
   * - `never`: it cannot (names, domains, licenses): same lock, same version;
   * - `on-change`: only once the work calls `changing()`, so an idempotent repeat (the same
   *   PUT sent twice, a retry after a lost answer) keeps the version and the caches.
   */
  bump?: 'always' | 'never' | 'on-change';
  /**
   * D23: nobody widens their own rights. After a write that moved the version, the caller's
   * rights are read again in the same transaction and the write is refused (rolled back)
   * if they gained anything, except an admin's own application and developer access (D12).
   * `may-grow` only where a rule gives the caller something by design: accepting an
   * invitation, and the project-admin role a project's creator receives (D15).
   */
  ownRights?: 'may-grow';
  /** The operator credential came beside the caller's token: recorded in the audit log. */
  operator?: boolean;
  /** Who is turned away before the lock is taken (see EarlyCheck); unset: everyone without an active membership. */
  authorise?: EarlyCheck;
  /**
   * Slow work (hashing a password) done after the early check and before the lock, so
   * that neither strangers nor the company's other writers wait on it. Its result is the
   * work's second argument.
   */
  prepare?: () => Promise<P>;
}

/** D12: what an admin may give themself. */
const ADMIN_SELF_GRANTS: ReadonlySet<string> = new Set(['Application', 'Builder']);

async function assertOwnRightsKept(trx: Transaction<Database>, policies: Policies, caller: Caller, before: CallerRights): Promise<void> {
  const after = await loadRights(trx, policies, caller, before.companyId);
  const grid = decisionGrid(policies.catalog, [...before.grantedProjects, ...after.grantedProjects]);
  const gained = gainedDecisions(policies.catalog, before.ability, after.ability, grid).filter((d) => !(isAdmin(before) && ADMIN_SELF_GRANTS.has(d.subject)));
  if (gained.length) {
    throw new ForbiddenError('nobody widens their own rights (D23): another member who holds these may give them to you', {
      lacking: describeLacking(policies.catalog, gained),
    });
  }
}

/** Appends audit entries in the caller's transaction, so the log and the change commit together. */
export async function insertAudit(trx: Transaction<Database>, companyId: string, actor: AuditActor, version: string, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await trx
    .insertInto('audit_log')
    .values(
      entries.map((entry) => ({
        company_id: companyId,
        actor: actor.id,
        operator: actor.operator,
        action: entry.action,
        target: entry.target,
        before: entry.before === undefined ? null : JSON.stringify(entry.before),
        after: entry.after === undefined ? null : JSON.stringify(entry.after),
        version,
      })),
    )
    .execute();
}

function assertEarly(rights: CallerRights, check: Exclude<EarlyCheck, 'anyone'> | undefined): void {
  if (check === undefined) assertActiveMember(rights);
  else if (typeof check === 'function') check(rights);
  else assertCan(rights, check);
}

/**
 * One write on one company, under its lock:
 * 1. bumps the company's policy version first (or only locks it, per `bump`), which takes the
 *    company's row lock and so serialises concurrent writers;
 * 2. runs `work`, which starts with its authorisation;
 * 3. writes the audit entries and commits, then announces the new version to every instance.
 */
async function lockedWrite<T>(
  deps: WriteDeps,
  companyId: string,
  actor: AuditActor,
  bump: NonNullable<WriteOptions['bump']>,
  work: (ctx: LockedWriteContext, bumped: () => boolean) => Promise<T>,
): Promise<{ result: T; version: string }> {
  const outcome = await deps.db.transaction().execute(async (trx) => {
    let version = bump === 'always' ? await bumpPolicyVersion(trx, companyId) : await lockCompany(trx, companyId);
    if (version === null) throw new NotFoundError(`company ${companyId} not found`);
    let bumped = bump === 'always';
    const entries: AuditEntry[] = [];
    const events: WebhookEvent[] = [];
    const changing = async () => {
      if (bumped || bump !== 'on-change') return;
      bumped = true;
      version = (await bumpPolicyVersion(trx, companyId)) ?? version;
    };
    const result = await work({ trx, audit: (entry) => entries.push(entry), emit: (event) => events.push(event), changing }, () => bumped);
    await insertAudit(trx, companyId, actor, version!, entries);
    if (deps.events) await deps.events.append(trx, companyId, version!, { userId: actor.id, email: actor.email ?? null }, events);
    return { result, version: version!, bumped, emitted: events.length > 0 };
  });
  if (outcome.bumped) await deps.announce(companyId, outcome.version);
  if (outcome.emitted) deps.events?.committed();
  return { result: outcome.result, version: outcome.version };
}

/**
 * Runs one admin write on one company for a user:
 * 1. reads the caller's rights outside any transaction and refuses those who could not
 *    make this write (`authorise`): a stranger must not queue for, or hold up, the lock
 *    the company's real writers need;
 * 2. runs `prepare`, if any, still outside the lock;
 * 3. takes the company's lock (see lockedWrite) and loads the caller's rights again inside
 *    the transaction: rights may have changed since step 1, and these are the ones the
 *    work asserts on;
 * 4. runs `work`, which starts with its permission assertion;
 * 5. refuses the write if it widened the caller's own rights (D23).
 */
export async function writeCompany<T, P = undefined>(
  deps: WriteDeps,
  caller: Caller,
  companyId: string,
  work: (ctx: WriteContext, prepared: P) => Promise<T>,
  options: WriteOptions<P> = {},
): Promise<{ result: T; version: string }> {
  if (options.authorise !== 'anyone') assertEarly(await loadRights(deps.db, deps.policies, caller, companyId), options.authorise);
  const prepared = options.prepare ? await options.prepare() : (undefined as P);
  const actor = { id: caller.sub, operator: options.operator ?? false, email: caller.email };
  return lockedWrite(deps, companyId, actor, options.bump ?? 'always', async (ctx, bumped) => {
    const rights = await loadRights(ctx.trx, deps.policies, caller, companyId);
    const result = await work({ ...ctx, rights }, prepared);
    if (bumped() && options.ownRights !== 'may-grow' && rights.membership?.status === 'active') await assertOwnRightsKept(ctx.trx, deps.policies, caller, rights);
    return result;
  });
}

/**
 * A write the platform operator makes on its own (the operator credential and no user):
 * the same lock, version and audit as any write, authorised by the credential alone.
 * A deleted company keeps its version row, so its absence is checked here.
 */
export async function writeCompanyAsOperator<T>(
  deps: WriteDeps,
  companyId: string,
  work: (ctx: LockedWriteContext) => Promise<T>,
  options: Pick<WriteOptions, 'bump'> = {},
): Promise<{ result: T; version: string }> {
  return lockedWrite(deps, companyId, { id: OPERATOR_ACTOR, operator: true }, options.bump ?? 'always', async (ctx) => {
    const company = await ctx.trx.selectFrom('companies').select('id').where('id', '=', companyId).executeTakeFirst();
    if (!company) throw new NotFoundError(`company ${companyId} not found`);
    return work(ctx);
  });
}

/**
 * A write on a route the operator may call alone: as the user when there is one (their
 * rights apply, and the operator credential beside them is recorded), else as the operator.
 * `work` gets the user's rights, or null for the operator.
 */
export function writeCompanyAs<T>(
  deps: WriteDeps,
  caller: AdminCaller,
  companyId: string,
  work: (ctx: LockedWriteContext, rights: CallerRights | null) => Promise<T>,
  options: Pick<WriteOptions, 'bump' | 'authorise'> = {},
): Promise<{ result: T; version: string }> {
  return caller.user
    ? writeCompany(deps, caller.user, companyId, (ctx) => work(ctx, ctx.rights), { ...options, operator: caller.operator })
    : writeCompanyAsOperator(deps, companyId, (ctx) => work(ctx, null), { bump: options.bump });
}

/** Reads run on the caller's fresh rights (never cached): admin decisions read their own writes. */
export async function readCompany<T>(deps: Pick<WriteDeps, 'db' | 'policies'>, caller: Caller, companyId: string, work: (rights: CallerRights) => Promise<T>): Promise<T> {
  const rights = await loadRights(deps.db, deps.policies, caller, companyId);
  return work(rights);
}
