import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { HashQueue } from '../../auth/hash-queue.js';
import { hashPassword } from '../../auth/passwords.js';
import { INVITE_PREFIX, LOCAL_USER_PREFIX } from '../../auth/tokens.js';
import { ConflictError, ForbiddenError, LastAdminError, NotFoundError } from '../../errors.js';
import type { Policies } from '../../policy/catalog.js';
import type { CompanyRole, MembershipStatus, StoredPermission } from '../../policy/types.js';
import { isUniqueViolation } from '../../store/errors.js';
import type { Database } from '../../store/schema.js';
import { grantsQuery } from '../../store/principal-facts.js';
import { assertActiveMember, assertCan, assertHolds, isAdmin, type Caller, type CallerRights, type Need } from '../context.js';
import { abilityOf, companyRoleAbility, decisionGrid, gainedDecisions } from '../escalation.js';
import { assertSeatsAvailable } from '../licenses.js';
import { readCompany, writeCompany, type LockedWriteContext, type WriteDeps } from '../transaction.js';
import { asciiLowerCase, asciiLowerSql, domainMemberSql, invitationExpiredSql, upsertPlatformUser } from '../users.js';
import { acceptUrl } from '../../webhooks/events.js';
import { decodeMemberCursor, encodeMemberCursor, type InviteInput, type LocalUserInput, type MemberList, type MemberListQuery, type MemberPatch, type MemberView, type MemberWritten } from './schemas.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Memberships with what a member view needs, in any company, the derived type (D4) included. */
export function membershipsQuery(db: Db) {
  return db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .leftJoin('local_credentials as lc', 'lc.user_id', 'u.id')
    .select([
      'm.user_id',
      'u.email',
      'u.kind',
      'm.status',
      'm.role',
      'm.owner',
      'm.application_access',
      'm.developer_access',
      'lc.login',
      'lc.first_name',
      'lc.last_name',
      'm.invitation_expires_at',
      'm.invited_by',
      invitationExpiredSql().as('expired'),
      domainMemberSql().as('domain_member'),
    ]);
}

/** Members with the derived type (D4): a platform user whose email domain the company registered is a Member. */
const membersQuery = (db: Db, companyId: string) => membershipsQuery(db).where('m.company_id', '=', companyId);

/** How many memberships the filters keep, joined only to what they read: unfiltered, the primary key alone answers. */
function countQuery(db: Db, companyId: string, query: MemberListQuery) {
  let count = db.selectFrom('memberships as m').where('m.company_id', '=', companyId);
  if (query.q || query.type !== undefined || query.kind !== undefined) count = count.innerJoin('users as u', 'u.id', 'm.user_id');
  if (query.q) count = count.leftJoin('local_credentials as lc', 'lc.user_id', 'm.user_id');
  return count.where(filterSql(query)).select((eb) => eb.fn.countAll<string>().as('total'));
}

/** Lowered by the same function on both sides; a search, not an identity comparison, so the database's case folding will do. */
const contains = (column: RawBuilder<string | null>, lowered: RawBuilder<string>) => sql<boolean>`coalesce(strpos(lower(${column}), ${lowered}) > 0, false)`;

/** The list's filters over a membership `m`, its user `u` and credentials `lc`, as the member view derives status and type (expired invitations, D4). */
function filterSql(query: MemberListQuery): RawBuilder<boolean> {
  const conditions: RawBuilder<unknown>[] = [];
  if (query.role !== undefined) conditions.push(sql`m.role = ${query.role}`);
  if (query.kind !== undefined) conditions.push(sql`u.kind = ${query.kind}`);
  if (query.status === 'expired') conditions.push(invitationExpiredSql());
  else if (query.status === 'invited') conditions.push(sql`(m.status = 'invited' and not ${invitationExpiredSql()})`);
  else if (query.status !== undefined) conditions.push(sql`m.status = ${query.status}`);
  const isMember = sql`(u.kind = 'local' or ${domainMemberSql()})`;
  if (query.type === 'member') conditions.push(isMember);
  else if (query.type === 'guest') conditions.push(sql`not ${isMember}`);
  if (query.q) {
    const q = sql<string>`lower(${query.q})`;
    conditions.push(sql`(${contains(sql.ref('m.user_id'), q)} or ${contains(sql.ref('u.email'), q)} or ${contains(sql.ref('lc.login'), q)} or ${contains(sql`lc.first_name || ' ' || lc.last_name`, q)})`);
  }
  return conditions.length ? sql<boolean>`${sql.join(conditions, sql` and `)}` : sql<boolean>`true`;
}

type MemberRow = Awaited<ReturnType<ReturnType<typeof membershipsQuery>['executeTakeFirstOrThrow']>>;

export function toView(row: MemberRow): MemberView {
  const view: MemberView = {
    userId: row.user_id,
    email: row.email,
    kind: row.kind,
    // Local users exist only inside their company, so they count as its own people.
    type: row.kind === 'local' || row.domain_member ? 'member' : 'guest',
    status: row.expired ? 'expired' : row.status,
    role: row.role,
    owner: row.owner,
    applicationAccess: row.application_access,
    developerAccess: row.developer_access,
  };
  if (row.status === 'invited') view.invitation = { expiresAt: new Date(row.invitation_expires_at).toISOString(), invitedBy: row.invited_by };
  if (row.login !== null) Object.assign(view, { login: row.login, firstName: row.first_name, lastName: row.last_name });
  return view;
}

async function loadMember(db: Db, companyId: string, userId: string): Promise<MemberView> {
  const row = await membersQuery(db, companyId).where('m.user_id', '=', userId).executeTakeFirst();
  if (!row) throw new NotFoundError(`member ${userId} not found`);
  return toView(row);
}

async function rolePermissions(trx: Transaction<Database>, policies: Policies, companyId: string, role: CompanyRole): Promise<readonly StoredPermission[]> {
  if (role === 'admin') return policies.companyRoles.admin;
  const row = await trx.selectFrom('company_role_permissions').select('permissions').where('company_id', '=', companyId).where('role', '=', role).executeTakeFirst();
  return row?.permissions ?? policies.companyRoles[role];
}

/**
 * No privilege escalation through role assignment: only admins give or take the admin
 * role (or touch an admin at all), and anyone else may only give a role whose every
 * decision they hold themselves (D23).
 */
async function assertMayAssignRole(trx: Transaction<Database>, policies: Policies, rights: CallerRights, role: CompanyRole): Promise<void> {
  if (isAdmin(rights)) return;
  if (role === 'admin') throw new ForbiddenError('only admins assign the admin role');
  const { catalog } = policies;
  const decisions = gainedDecisions(catalog, null, companyRoleAbility(catalog, role, await rolePermissions(trx, policies, rights.companyId, role)), decisionGrid(catalog, []));
  assertHolds(rights, catalog, decisions, `the ${role} role holds permissions you do not have`);
}

/** D3: administration is for platform users. */
function assertMayHoldRole(kind: 'platform' | 'local', role: CompanyRole): void {
  if (kind === 'local' && role === 'admin') throw new ConflictError('local users cannot be admins: administration is for platform users (D3)', { kind, role });
}

interface MembershipState {
  status: MembershipStatus;
  role: CompanyRole;
  owner: boolean;
  applicationAccess: boolean;
  developerAccess: boolean;
}

/**
 * What a membership in this state may do, its project grants (direct and through teams)
 * included whatever its status, so a change of status shows what it gives back.
 */
async function membershipAbility(trx: Transaction<Database>, policies: Policies, companyId: string, userId: string | null, state: MembershipState) {
  const grants = userId === null ? [] : await grantsQuery(trx, companyId, userId).execute();
  const projectGrants = grants.map((g) => ({ projectId: g.project_id, roleKey: g.role_key, teamId: g.team_id, permissions: g.permissions }));
  return {
    ability: abilityOf(policies.catalog, { membership: state, companyRolePermissions: await rolePermissions(trx, policies, companyId, state.role), projectGrants }),
    projects: projectGrants.map((g) => g.projectId),
  };
}

/**
 * D23: a membership write (an invitation, a local user, a PATCH) gives its member whatever
 * decisions the new state allows that the old did not: a role, access flags, and on
 * re-activation everything they held before, their project and team grants included.
 * Outside the admin role the caller must hold each of them.
 */
async function assertMayGive(trx: Transaction<Database>, policies: Policies, rights: CallerRights, userId: string | null, before: MembershipState | null, after: MembershipState): Promise<void> {
  if (isAdmin(rights)) return;
  const { catalog } = policies;
  const next = await membershipAbility(trx, policies, rights.companyId, userId, after);
  const previous = before ? await membershipAbility(trx, policies, rights.companyId, userId, before) : null;
  const gained = gainedDecisions(catalog, previous?.ability ?? null, next.ability, decisionGrid(catalog, next.projects));
  assertHolds(rights, catalog, gained, `this gives ${userId ?? 'the new member'} rights you do not hold`, userId ? { userId } : {});
}

/** D11: the company must keep an active admin; called under the company's write lock. */
async function assertAnotherActiveAdmin(trx: Transaction<Database>, companyId: string, userId: string): Promise<void> {
  const other = await trx
    .selectFrom('memberships')
    .select('user_id')
    .where('company_id', '=', companyId)
    .where('role', '=', 'admin')
    .where('status', '=', 'active')
    .where('user_id', '!=', userId)
    .executeTakeFirst();
  if (!other) throw new LastAdminError('the company must keep at least one active admin', { userId });
}

interface SeatHolder {
  status: MemberView['status'];
  applicationAccess: boolean;
  developerAccess: boolean;
}

/** Seats a membership holds (D14): access flags count unless the membership is inactive or an expired invitation. */
const seatsOf = (m: SeatHolder) =>
  m.status === 'inactive' || m.status === 'expired' ? { user: 0, developer: 0 } : { user: Number(m.applicationAccess), developer: Number(m.developerAccess) };

/** Extra seats a change needs: what the membership will hold beyond what it holds now. */
export function extraSeats(before: SeatHolder | null, after: SeatHolder): { user: number; developer: number } {
  const now = before ? seatsOf(before) : { user: 0, developer: 0 };
  const next = seatsOf(after);
  return { user: Math.max(0, next.user - now.user), developer: Math.max(0, next.developer - now.developer) };
}

// Each write's first assertion: checked before the company lock, and again under it (see writeCompany).
const MAY_INVITE: Need = { action: 'invite', subject: 'Member' };
const MAY_CREATE: Need = { action: 'create', subject: 'Member' };
const MAY_EDIT: Need = { action: 'edit', subject: 'Member' };
const MAY_REMOVE: Need = { action: 'remove', subject: 'Member' };
/** Leaving needs a membership of one's own, whatever its status (an inactive member may leave too). */
const HAS_MEMBERSHIP = (rights: CallerRights) => {
  if (!rights.membership) throw new NotFoundError(`company ${rights.companyId} not found`);
};

const isInvitation = (member: MemberView) => member.status === 'invited' || member.status === 'expired';

/** What an invitation's content is: the membership it becomes once accepted. */
interface InvitationContent {
  role: CompanyRole;
  applicationAccess: boolean;
  developerAccess: boolean;
}

/** Invitations (pending or expired), in any company, addressed to an email: compared after ASCII case folding only. */
export const invitationsTo = (db: Db, email: string) =>
  membershipsQuery(db).where('m.status', '=', 'invited').where(asciiLowerSql(sql.ref('u.email')), '=', asciiLowerCase(email));

/** The invitation addressed to an email in a company (one at most: inviting an address twice renews the first). */
async function findInvitationByEmail(db: Db, companyId: string, email: string): Promise<MemberView | undefined> {
  const row = await invitationsTo(db, email).where('m.company_id', '=', companyId).executeTakeFirst();
  return row ? toView(row) : undefined;
}

/**
 * The invitation the caller's token speaks for (D6): a platform user's verified email, the
 * invited address exactly after ASCII case folding (a look-alike such as U+212A KELVIN SIGN
 * for K is another address). Accepting and declining share these rules.
 */
async function invitationOfCaller(db: Db, caller: Caller, companyId: string): Promise<MemberView> {
  if (caller.sub.startsWith(LOCAL_USER_PREFIX)) throw new ForbiddenError('local users are created active and have no invitations');
  if (!caller.email) throw new ForbiddenError('the token carries no verified email (email_verified: true) to match an invitation');
  const invitation = await findInvitationByEmail(db, companyId, caller.email);
  if (!invitation) throw new NotFoundError(`no pending invitation for ${caller.email}`);
  return invitation;
}

const memberRef = (member: MemberView) => ({ userId: member.userId, email: member.email, kind: member.kind, role: member.role, status: member.status });

export interface InvitationSettings {
  /** INVITATION_TTL, in seconds. */
  ttlSeconds: number;
  /** INVITE_URL_TEMPLATE: the platform's accept page, named in invitation events. */
  urlTemplate: string | undefined;
}

export function createMembersService(deps: WriteDeps & { hashing: HashQueue; invitations: InvitationSettings }) {
  const { db, policies, hashing, invitations } = deps;
  const expiry = () => sql<Date>`now() + ${invitations.ttlSeconds} * interval '1 second'`;

  const invitationEvent = (companyId: string, member: MemberView) => ({
    invitationId: member.userId,
    email: member.email!,
    role: member.role,
    applicationAccess: member.applicationAccess,
    developerAccess: member.developerAccess,
    type: member.type,
    expiresAt: member.invitation!.expiresAt,
    acceptUrl: acceptUrl(invitations.urlTemplate, { company: companyId, invitation: member.userId, email: member.email! }),
  });

  /**
   * Re-invites (renews) an invitation, pending or expired: a new expiry, the content given, the
   * event again. Checked as a fresh invitation whatever it held before (D23): renewing an
   * invitation, or reviving an expired one, hands out everything it gives once accepted for
   * another INVITATION_TTL, including the team places and project grants given to it meanwhile
   * (as re-activating a member counts theirs).
   */
  async function renew(ctx: LockedWriteContext, rights: CallerRights, companyId: string, before: MemberView, content: InvitationContent): Promise<MemberView> {
    const { trx, audit, emit } = ctx;
    // D12, as for a membership: an invitation to the admin role is an admin's to change, even to a lesser role.
    if (before.role === 'admin' && !isAdmin(rights)) throw new ForbiddenError('only admins change an invitation to the admin role');
    await assertMayAssignRole(trx, policies, rights, content.role);
    const { role, applicationAccess, developerAccess } = content;
    await assertMayGive(trx, policies, rights, before.userId, null, { status: 'active', owner: false, role, applicationAccess, developerAccess });
    await assertSeatsAvailable(trx, companyId, extraSeats(before, { status: 'invited', applicationAccess, developerAccess }));
    await trx
      .updateTable('memberships')
      .set({ role, application_access: applicationAccess, developer_access: developerAccess, invitation_expires_at: expiry(), invited_by: rights.caller.sub })
      .where('company_id', '=', companyId)
      .where('user_id', '=', before.userId)
      .execute();
    const member = await loadMember(trx, companyId, before.userId);
    audit({ action: 'member.reinvite', target: `member:${member.userId}`, before, after: member });
    emit({ type: 'invitation.resent', data: { invitation: invitationEvent(companyId, member) } });
    return member;
  }

  return {
    /**
     * Without `limit`, every member (matching the filters) as the list always was. With it, a page in
     * user id order from after the cursor (keyset on the primary key, so a page costs the same
     * wherever it is) and how many match over all pages.
     */
    async list(caller: Caller, companyId: string, query: MemberListQuery = {}): Promise<MemberList> {
      return readCompany(deps, caller, companyId, async (rights) => {
        assertCan(rights, { action: 'view', subject: 'Member' });
        const matching = membersQuery(db, companyId).where(filterSql(query));
        if (query.limit === undefined) {
          const rows = await matching.orderBy('m.created_at').orderBy('m.user_id').execute();
          return { members: rows.map(toView) };
        }
        const after = query.after === undefined ? undefined : decodeMemberCursor(query.after)!;
        const [rows, counted] = await Promise.all([
          (after === undefined ? matching : matching.where('m.user_id', '>', after)).orderBy('m.user_id').limit(query.limit + 1).execute(),
          countQuery(db, companyId, query).executeTakeFirstOrThrow(),
        ]);
        const page = rows.slice(0, query.limit);
        return {
          members: page.map(toView),
          next: rows.length > query.limit ? encodeMemberCursor(page.at(-1)!.user_id) : null,
          total: Number(counted.total),
        };
      });
    },

    /** Everyone may read their own membership; others' need `view Member`. */
    async get(caller: Caller, companyId: string, userId: string): Promise<MemberView> {
      return readCompany(deps, caller, companyId, async (rights) => {
        if (userId === caller.sub) assertActiveMember(rights);
        else assertCan(rights, { action: 'view', subject: 'Member' });
        return loadMember(db, companyId, userId);
      });
    },

    /**
     * D6: lists the person as a potential user; they get nothing until they accept. An email
     * with an invitation already (pending or expired) is re-invited instead: `created` false.
     */
    async invite(caller: Caller, companyId: string, input: InviteInput): Promise<MemberWritten & { created: boolean }> {
      const { result, version } = await writeCompany(deps, caller, companyId, async (ctx) => {
        const { trx, rights, audit, emit } = ctx;
        assertCan(rights, MAY_INVITE);
        const content = { role: input.role, applicationAccess: input.applicationAccess ?? false, developerAccess: input.developerAccess ?? false };
        const already = await membersQuery(trx, companyId)
          .where(asciiLowerSql(sql.ref('u.email')), '=', asciiLowerCase(input.email))
          .executeTakeFirst();
        if (already && !isInvitation(toView(already))) throw new ConflictError(`${input.email} is already in the company`, { userId: already.user_id });
        if (already) return { member: await renew(ctx, rights, companyId, toView(already), content), created: false };

        await assertMayAssignRole(trx, policies, rights, input.role);
        // Accepting needs nobody's further say: the invitation is the grant.
        await assertMayGive(trx, policies, rights, null, null, { ...content, status: 'active', owner: false });
        await assertSeatsAvailable(trx, companyId, extraSeats(null, { ...content, status: 'invited' }));
        const userId = `${INVITE_PREFIX}${randomUUID()}`;
        await trx.insertInto('users').values({ id: userId, kind: 'platform', email: input.email }).execute();
        await trx
          .insertInto('memberships')
          .values({
            company_id: companyId,
            user_id: userId,
            status: 'invited',
            role: content.role,
            application_access: content.applicationAccess,
            developer_access: content.developerAccess,
            invitation_expires_at: expiry(),
            invited_by: caller.sub,
          })
          .execute();
        const member = await loadMember(trx, companyId, userId);
        audit({ action: 'member.invite', target: `member:${userId}`, after: member });
        emit({ type: 'invitation.created', data: { invitation: invitationEvent(companyId, member) } });
        return { member, created: true };
      }, { authorise: MAY_INVITE });
      return { ...result.member, version, created: result.created };
    },

    /** Re-sends an invitation (pending or expired) as it stands: renewed, and announced again. */
    async resend(caller: Caller, companyId: string, userId: string): Promise<MemberWritten> {
      const { result, version } = await writeCompany(deps, caller, companyId, async (ctx) => {
        assertCan(ctx.rights, MAY_INVITE);
        const before = await loadMember(ctx.trx, companyId, userId);
        if (!isInvitation(before)) throw new ConflictError(`member ${userId} is not an invitation (status ${before.status})`, { userId, status: before.status });
        return renew(ctx, ctx.rights, companyId, before, { role: before.role, applicationAccess: before.applicationAccess, developerAccess: before.developerAccess });
      }, { authorise: MAY_INVITE });
      return { ...result, version };
    },

    /**
     * The invited platform user takes up the invitation with their own token, whose email
     * must be the one invited. Their membership, and any team places and grants given to
     * it meanwhile, move to their real user id (the foreign keys cascade the id).
     */
    async accept(caller: Caller, companyId: string): Promise<MemberWritten> {
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit, emit }) => {
        const invitation = await invitationOfCaller(trx, caller, companyId);
        if (invitation.status === 'expired') {
          throw new ConflictError('this invitation has expired: ask for a new one', { reason: 'expired', expiresAt: invitation.invitation!.expiresAt });
        }
        if (rights.membership && invitation.userId !== caller.sub) throw new ConflictError('you are already in the company', { userId: caller.sub });
        await upsertPlatformUser(trx, caller);
        await trx.updateTable('memberships').set({ user_id: caller.sub, status: 'active' }).where('company_id', '=', companyId).where('user_id', '=', invitation.userId).execute();
        if (invitation.userId.startsWith(INVITE_PREFIX)) await trx.deleteFrom('users').where('id', '=', invitation.userId).execute();
        const member = await loadMember(trx, companyId, caller.sub);
        audit({ action: 'member.accept', target: `member:${caller.sub}`, before: { userId: invitation.userId, status: 'invited' }, after: member });
        emit({ type: 'invitation.accepted', data: { invitation: { invitationId: invitation.userId, email: invitation.email! }, member: memberRef(member) } });
        return member;
        // What the invitation gives was checked when it was made; its invitee is a stranger until now.
      }, { ownRights: 'may-grow', authorise: 'anyone' });
      return { ...result, version };
    },

    /** The invitee turns the invitation down (pending or expired): it goes, with whatever was given to it meanwhile. */
    async decline(caller: Caller, companyId: string): Promise<{ version: string }> {
      const { version } = await writeCompany(deps, caller, companyId, async ({ trx, audit, emit }) => {
        const invitation = await invitationOfCaller(trx, caller, companyId);
        await trx.deleteFrom('memberships').where('company_id', '=', companyId).where('user_id', '=', invitation.userId).execute();
        await trx.deleteFrom('users').where('id', '=', invitation.userId).execute();
        audit({ action: 'member.decline', target: `member:${invitation.userId}`, before: invitation });
        emit({ type: 'invitation.declined', data: { invitation: { invitationId: invitation.userId, email: invitation.email!, role: invitation.role } } });
      }, { authorise: 'anyone' });
      return { version };
    },

    /** D3: a local user, active at once, signing in with Castellan's own tokens. */
    async createLocal(caller: Caller, companyId: string, input: LocalUserInput): Promise<MemberWritten> {
      // scrypt is slow on purpose: run for callers who may create members only, in the hashing line, outside the lock.
      const hashNewPassword = () => hashing.run(() => hashPassword(input.password));
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }, passwordHash) => {
        assertCan(rights, MAY_CREATE);
        await assertMayAssignRole(trx, policies, rights, input.role);
        assertMayHoldRole('local', input.role);
        const applicationAccess = input.applicationAccess ?? false;
        await assertMayGive(trx, policies, rights, null, null, { status: 'active', role: input.role, owner: false, applicationAccess, developerAccess: false });
        await assertSeatsAvailable(trx, companyId, extraSeats(null, { status: 'active', applicationAccess, developerAccess: false }));
        const userId = `${LOCAL_USER_PREFIX}${randomUUID()}`;
        await trx.insertInto('users').values({ id: userId, kind: 'local', email: null }).execute();
        await trx.insertInto('memberships').values({ company_id: companyId, user_id: userId, status: 'active', role: input.role, application_access: applicationAccess }).execute();
        try {
          await trx
            .insertInto('local_credentials')
            .values({ user_id: userId, company_id: companyId, login: input.login, password_hash: passwordHash, first_name: input.firstName, last_name: input.lastName })
            .execute();
        } catch (error) {
          if (isUniqueViolation(error, 'local_credentials_login_unique')) throw new ConflictError(`the login ${input.login} is taken in this company`, { login: input.login });
          throw error;
        }
        const member = await loadMember(trx, companyId, userId);
        audit({ action: 'member.create_local', target: `member:${userId}`, after: member });
        return member;
      }, { authorise: MAY_CREATE, prepare: hashNewPassword });
      return { ...result, version };
    },

    async update(caller: Caller, companyId: string, userId: string, patch: MemberPatch): Promise<MemberWritten> {
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, MAY_EDIT);
        if (userId === caller.sub && (patch.role !== undefined || patch.status !== undefined)) {
          throw new ForbiddenError('nobody changes their own role or status');
        }
        const before = await loadMember(trx, companyId, userId);
        // Changing what a lapsed invitation would give is re-inviting: that renews it, and is checked as a new invitation.
        if (before.status === 'expired') {
          throw new ConflictError('this invitation has expired: re-invite it (POST /invitations or /invitations/{userId}/resend)', { reason: 'expired', userId });
        }
        const after = {
          role: patch.role ?? before.role,
          status: patch.status ?? before.status,
          applicationAccess: patch.applicationAccess ?? before.applicationAccess,
          developerAccess: patch.developerAccess ?? before.developerAccess,
        };
        if (after.role !== before.role) {
          if (before.role === 'admin' && !isAdmin(rights)) throw new ForbiddenError('only admins remove the admin role');
          await assertMayAssignRole(trx, policies, rights, after.role);
          assertMayHoldRole(before.kind, after.role);
        }
        if (before.status === 'invited' && after.status !== 'invited') {
          throw new ConflictError('an invitation becomes active when its invitee accepts it; remove it instead', { status: before.status });
        }
        if (before.kind === 'local' && after.developerAccess) throw new ConflictError('local users cannot use the Builder', { kind: 'local' });
        const losesActiveAdmin = before.role === 'admin' && before.status === 'active' && (after.role !== 'admin' || after.status !== 'active');
        if (losesActiveAdmin) {
          await assertAnotherActiveAdmin(trx, companyId, userId); // D11
          // D10: the owner's admin rights carry the owner's powers; they end only by handing the tag on.
          if (before.owner) throw new ConflictError('the owner stays an active admin; transfer ownership first', { owner: userId });
        }
        // D12: administering admins is an admin privilege; a lesser member neither revives nor silences one.
        if (before.role === 'admin' && !isAdmin(rights)) throw new ForbiddenError("only admins change an admin's membership");
        // before.status is narrowed here: an expired invitation was refused above.
        await assertMayGive(trx, policies, rights, userId, { ...before, status: before.status }, { ...after, owner: before.owner });
        await assertSeatsAvailable(trx, companyId, extraSeats(before, after));
        await trx
          .updateTable('memberships')
          .set({ role: after.role, status: after.status, application_access: after.applicationAccess, developer_access: after.developerAccess })
          .where('company_id', '=', companyId)
          .where('user_id', '=', userId)
          .execute();
        const member = await loadMember(trx, companyId, userId);
        audit({ action: 'member.update', target: `member:${userId}`, before, after: member });
        return member;
      }, { authorise: MAY_EDIT });
      return { ...result, version };
    },

    /** Removes the membership with its team places and grants (D19); local users and pending invitees go entirely. */
    async remove(caller: Caller, companyId: string, userId: string): Promise<{ version: string }> {
      const { version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit, emit }) => {
        assertCan(rights, MAY_REMOVE);
        if (userId === caller.sub) throw new ForbiddenError('nobody removes themself: leave with DELETE /members/me, or another admin removes you');
        const before = await loadMember(trx, companyId, userId);
        if (before.role === 'admin' && !isAdmin(rights)) throw new ForbiddenError('only admins remove an admin');
        if (before.role === 'admin' && before.status === 'active') await assertAnotherActiveAdmin(trx, companyId, userId); // D11
        if (before.owner) throw new ConflictError('the owner cannot be removed; transfer ownership first', { owner: userId });
        await dropMembership(trx, companyId, before);
        audit({ action: 'member.remove', target: `member:${userId}`, before });
        emit({ type: 'member.removed', data: { member: memberRef(before), reason: 'removed' } });
      }, { authorise: MAY_REMOVE });
      return { version };
    },

    /**
     * A member leaves the company on their own (any status): their team places and project
     * grants go with the membership (D19) and the version moves, so checks stop allowing at
     * once. The owner hands the tag on first (D10), the last active admin cannot go (D11), and
     * local users, who exist only in their company, are removed by an admin.
     */
    async leave(caller: Caller, companyId: string): Promise<{ version: string }> {
      const { version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit, emit }) => {
        HAS_MEMBERSHIP(rights);
        const before = await loadMember(trx, companyId, caller.sub);
        if (before.kind === 'local') throw new ForbiddenError('local users exist only in their company: an admin removes them', { kind: 'local' });
        if (before.role === 'admin' && before.status === 'active') await assertAnotherActiveAdmin(trx, companyId, caller.sub); // D11
        if (before.owner) throw new ConflictError('the owner cannot leave; transfer ownership first', { owner: caller.sub });
        await dropMembership(trx, companyId, before);
        audit({ action: 'member.leave', target: `member:${caller.sub}`, before });
        emit({ type: 'member.removed', data: { member: memberRef(before), reason: 'left' } });
      }, { authorise: HAS_MEMBERSHIP });
      return { version };
    },
  };
}

/** The membership goes with its team places and grants (they cascade); local users and invitation placeholders exist only through it. */
async function dropMembership(trx: Transaction<Database>, companyId: string, member: MemberView): Promise<void> {
  await trx.deleteFrom('memberships').where('company_id', '=', companyId).where('user_id', '=', member.userId).execute();
  if (member.kind === 'local' || member.userId.startsWith(INVITE_PREFIX)) await trx.deleteFrom('users').where('id', '=', member.userId).execute();
}
