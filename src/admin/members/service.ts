import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
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
import { readCompany, writeCompany, type WriteDeps } from '../transaction.js';
import { asciiLowerCase, asciiLowerSql, upsertPlatformUser } from '../users.js';
import type { InviteInput, LocalUserInput, MemberPatch, MemberView } from './schemas.js';

type Db = Kysely<Database>;

/** Members with the derived type (D4): a platform user whose email domain the company registered is a Member. */
function membersQuery(db: Db, companyId: string) {
  return db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .leftJoin('local_credentials as lc', 'lc.user_id', 'u.id')
    .select((eb) => [
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
      eb
        .exists(
          eb
            .selectFrom('company_domains as d')
            .select(sql`1`.as('one'))
            .whereRef('d.company_id', '=', 'm.company_id')
            .where('d.domain', '=', asciiLowerSql(sql<string | null>`substring(u.email from '@([^@]*)$')`)),
        )
        .as('domain_member'),
    ])
    .where('m.company_id', '=', companyId);
}

type MemberRow = Awaited<ReturnType<ReturnType<typeof membersQuery>['executeTakeFirstOrThrow']>>;

function toView(row: MemberRow): MemberView {
  const view: MemberView = {
    userId: row.user_id,
    email: row.email,
    kind: row.kind,
    // Local users exist only inside their company, so they count as its own people.
    type: row.kind === 'local' || row.domain_member ? 'member' : 'guest',
    status: row.status,
    role: row.role,
    owner: row.owner,
    applicationAccess: row.application_access,
    developerAccess: row.developer_access,
  };
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
  status: MembershipStatus;
  applicationAccess: boolean;
  developerAccess: boolean;
}

/** Seats a membership holds (D14): access flags count unless the membership is inactive. */
const seatsOf = (m: SeatHolder) => (m.status === 'inactive' ? { user: 0, developer: 0 } : { user: Number(m.applicationAccess), developer: Number(m.developerAccess) });

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

export function createMembersService(deps: WriteDeps & { hashing: HashQueue }) {
  const { db, policies, hashing } = deps;

  return {
    async list(caller: Caller, companyId: string): Promise<MemberView[]> {
      return readCompany(deps, caller, companyId, async (rights) => {
        assertCan(rights, { action: 'view', subject: 'Member' });
        const rows = await membersQuery(db, companyId).orderBy('m.created_at').orderBy('m.user_id').execute();
        return rows.map(toView);
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

    /** D6: lists the person as a potential user; they get nothing until they accept. */
    async invite(caller: Caller, companyId: string, input: InviteInput): Promise<MemberView & { version: string }> {
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, MAY_INVITE);
        await assertMayAssignRole(trx, policies, rights, input.role);
        const access = { applicationAccess: input.applicationAccess ?? false, developerAccess: input.developerAccess ?? false };
        // Accepting needs nobody's further say: the invitation is the grant.
        await assertMayGive(trx, policies, rights, null, null, { status: 'active', role: input.role, owner: false, ...access });
        const already = await trx
          .selectFrom('memberships as m')
          .innerJoin('users as u', 'u.id', 'm.user_id')
          .select('m.user_id')
          .where('m.company_id', '=', companyId)
          .where(asciiLowerSql(sql.ref('u.email')), '=', asciiLowerCase(input.email))
          .executeTakeFirst();
        if (already) throw new ConflictError(`${input.email} is already in the company`, { userId: already.user_id });
        await assertSeatsAvailable(trx, companyId, extraSeats(null, { status: 'invited', ...access }));
        const userId = `${INVITE_PREFIX}${randomUUID()}`;
        await trx.insertInto('users').values({ id: userId, kind: 'platform', email: input.email }).execute();
        await trx
          .insertInto('memberships')
          .values({ company_id: companyId, user_id: userId, status: 'invited', role: input.role, application_access: access.applicationAccess, developer_access: access.developerAccess })
          .execute();
        const member = await loadMember(trx, companyId, userId);
        audit({ action: 'member.invite', target: `member:${userId}`, after: member });
        return member;
      }, { authorise: MAY_INVITE });
      return { ...result, version };
    },

    /**
     * The invited platform user takes up the invitation with their own token, whose email
     * must be the one invited. Their membership, and any team places and grants given to
     * it meanwhile, move to their real user id (the foreign keys cascade the id).
     */
    async accept(caller: Caller, companyId: string): Promise<MemberView & { version: string }> {
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        if (caller.sub.startsWith(LOCAL_USER_PREFIX)) throw new ForbiddenError('local users are created active and have no invitations');
        if (!caller.email) throw new ForbiddenError('the token carries no verified email (email_verified: true) to match an invitation');
        // Exact after ASCII folding: a look-alike (U+212A KELVIN SIGN for K) is another address.
        const email = asciiLowerCase(caller.email);
        const invitation = await trx
          .selectFrom('memberships as m')
          .innerJoin('users as u', 'u.id', 'm.user_id')
          .select('m.user_id')
          .where('m.company_id', '=', companyId)
          .where('m.status', '=', 'invited')
          .where(asciiLowerSql(sql.ref('u.email')), '=', email)
          .executeTakeFirst();
        if (!invitation) throw new NotFoundError(`no pending invitation for ${caller.email}`);
        if (rights.membership && invitation.user_id !== caller.sub) throw new ConflictError('you are already in the company', { userId: caller.sub });
        await upsertPlatformUser(trx, caller);
        await trx.updateTable('memberships').set({ user_id: caller.sub, status: 'active' }).where('company_id', '=', companyId).where('user_id', '=', invitation.user_id).execute();
        if (invitation.user_id.startsWith(INVITE_PREFIX)) await trx.deleteFrom('users').where('id', '=', invitation.user_id).execute();
        const member = await loadMember(trx, companyId, caller.sub);
        audit({ action: 'member.accept', target: `member:${caller.sub}`, before: { userId: invitation.user_id, status: 'invited' }, after: member });
        return member;
        // What the invitation gives was checked when it was made; its invitee is a stranger until now.
      }, { ownRights: 'may-grow', authorise: 'anyone' });
      return { ...result, version };
    },

    /** D3: a local user, active at once, signing in with Castellan's own tokens. */
    async createLocal(caller: Caller, companyId: string, input: LocalUserInput): Promise<MemberView & { version: string }> {
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

    async update(caller: Caller, companyId: string, userId: string, patch: MemberPatch): Promise<MemberView & { version: string }> {
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, MAY_EDIT);
        if (userId === caller.sub && (patch.role !== undefined || patch.status !== undefined)) {
          throw new ForbiddenError('nobody changes their own role or status');
        }
        const before = await loadMember(trx, companyId, userId);
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
        await assertMayGive(trx, policies, rights, userId, { ...before }, { ...after, owner: before.owner });
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
      const { version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, MAY_REMOVE);
        if (userId === caller.sub) throw new ForbiddenError('nobody removes themself; another admin can');
        const before = await loadMember(trx, companyId, userId);
        if (before.role === 'admin' && !isAdmin(rights)) throw new ForbiddenError('only admins remove an admin');
        if (before.role === 'admin' && before.status === 'active') await assertAnotherActiveAdmin(trx, companyId, userId); // D11
        if (before.owner) throw new ConflictError('the owner cannot be removed; transfer ownership first', { owner: userId });
        await trx.deleteFrom('memberships').where('company_id', '=', companyId).where('user_id', '=', userId).execute();
        if (before.kind === 'local' || userId.startsWith(INVITE_PREFIX)) await trx.deleteFrom('users').where('id', '=', userId).execute();
        audit({ action: 'member.remove', target: `member:${userId}`, before });
      }, { authorise: MAY_REMOVE });
      return { version };
    },
  };
}
