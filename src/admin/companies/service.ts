import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { emailDomain } from '../../auth/email.js';
import { INVITE_PREFIX } from '../../auth/tokens.js';
import { ConflictError, DomainTakenError, ForbiddenError, LicenseLimitError, NotFoundError } from '../../errors.js';
import { EDITABLE_COMPANY_ROLES } from '../../policy/types.js';
import { isUniqueViolation } from '../../store/errors.js';
import type { Database } from '../../store/schema.js';
import { startPolicyVersion } from '../../store/versions.js';
import type { AdminCaller } from '../../http/route.js';
import { assertActiveMember, assertCan, can, type Caller, type CallerRights, type Need } from '../context.js';
import { licenseUsage } from '../licenses.js';
import { insertAudit, readCompany, writeCompany, writeCompanyAs, type WriteDeps } from '../transaction.js';
import { upsertPlatformUser } from '../users.js';
import type { CompanyView, CreateCompanyInput, SubscriptionInput } from './schemas.js';

/** D4: only the Enterprise plan registers more than one email domain. */
export const MULTI_DOMAIN_PLAN = 'enterprise';

function assertDomainsFitPlan(plan: string, domains: readonly string[]): void {
  if (domains.length > 1 && plan.toLowerCase() !== MULTI_DOMAIN_PLAN) {
    throw new ConflictError(`only the ${MULTI_DOMAIN_PLAN} plan may register more than one email domain`, { plan, domains: domains.length });
  }
}

/**
 * D4: the domains a caller has not proven. Only a verified email proves one, and only the
 * domain it is at (not a parent or a subdomain of it): whoever receives mail at acme.test
 * may speak for acme.test, nobody else may claim it or learn that another company did.
 */
export function unprovenDomains(caller: Caller, domains: readonly string[]): string[] {
  // Only a verified address reaches a caller's claims (verifiedEmail, src/auth/tokens.ts).
  const proven = caller.email !== undefined ? emailDomain(caller.email) : null;
  return domains.filter((domain) => domain !== proven);
}

function assertDomainsProven(caller: Caller, domains: readonly string[]): void {
  const [domain] = unprovenDomains(caller, domains);
  if (domain !== undefined) {
    throw new ForbiddenError(`registering ${domain} needs your own verified email at ${domain}, or the platform operator's credential`, { domain });
  }
}

/** D14: plans and license counts are the billing side's, which holds the operator credential. */
function platformOnly(what: string, details: Record<string, unknown> = {}): ForbiddenError {
  return new ForbiddenError(`plans and licenses are set by the platform: ${what} needs the operator credential (X-Castellan-Operator-Token)`, {
    credential: 'operator',
    ...details,
  });
}

/**
 * Registers domains for a company (D5: a domain belongs to one company). The primary key
 * on the domain settles races between companies; the look-up first names the domain.
 */
async function claimDomains(trx: Transaction<Database>, companyId: string, domains: readonly string[]): Promise<void> {
  if (domains.length === 0) return;
  const taken = await trx.selectFrom('company_domains').select('domain').where('domain', 'in', domains).where('company_id', '!=', companyId).executeTakeFirst();
  if (taken) throw new DomainTakenError(`the domain ${taken.domain} is registered by another company`, { domain: taken.domain });
  try {
    await trx.insertInto('company_domains').values(domains.map((domain) => ({ domain, company_id: companyId }))).execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw new DomainTakenError('a domain is registered by another company', { domains });
    throw error;
  }
}

async function loadView(db: Kysely<Database> | Transaction<Database>, rights: CallerRights | null, companyId: string): Promise<CompanyView> {
  const company = await db.selectFrom('companies').selectAll().where('id', '=', companyId).executeTakeFirst();
  if (!company) throw new NotFoundError(`company ${companyId} not found`);
  const owner = await db.selectFrom('memberships').select('user_id').where('company_id', '=', companyId).where('owner', '=', true).executeTakeFirst();
  const view: CompanyView = { id: company.id, name: company.name, owner: owner?.user_id ?? null, createdAt: new Date(company.created_at).toISOString() };
  // Sections of the settings appear only to those whose role may view them (D8).
  const sees = (field: string) => rights === null || can(rights, { action: 'view', subject: 'CompanySettings', field });
  if (sees('domains')) {
    const domains = await db.selectFrom('company_domains').select('domain').where('company_id', '=', companyId).orderBy('domain').execute();
    view.domains = domains.map((d) => d.domain);
  }
  if (sees('subscription')) {
    view.plan = { name: company.plan_name, userLicenses: company.user_licenses, developerLicenses: company.developer_licenses };
    const usage = await licenseUsage(db, companyId);
    view.usage = { userLicenses: usage.user.used, developerLicenses: usage.developer.used };
  }
  return view;
}

const newCompanyId = () => `c-${randomBytes(6).toString('hex')}`;

// Each write's first assertion: checked before the company lock, and again under it (see writeCompany).
const MAY_EDIT_GENERAL: Need = { action: 'edit', subject: 'CompanySettings', field: 'general' };
const MAY_EDIT_DOMAINS: Need = { action: 'edit', subject: 'CompanySettings', field: 'domains' };
const MAY_EDIT_SUBSCRIPTION: Need = { action: 'edit', subject: 'CompanySettings', field: 'subscription' };
const MAY_DELETE: Need = { action: 'delete', subject: 'Company' };

export function createCompaniesService(deps: WriteDeps) {
  const { db, policies, announce } = deps;

  return {
    /**
     * Any platform user may open a company; they become its owner and an active admin (D10).
     * With the operator credential beside their token, the platform chooses its plan and
     * vouches for its domains.
     */
    async create(caller: Caller, input: CreateCompanyInput, operator: boolean): Promise<CompanyView & { version: string }> {
      if (caller.sub.startsWith('local:')) throw new ForbiddenError('local users belong to one company and cannot create companies');
      if (input.plan && !operator) throw platformOnly('choosing a plan', { path: 'plan' });
      const plan = input.plan ?? policies.plans.default;
      const domains = input.domains ?? [];
      if (!operator) assertDomainsProven(caller, domains);
      assertDomainsFitPlan(plan.name, domains);
      const companyId = input.id ?? newCompanyId();
      const created = await db.transaction().execute(async (trx) => {
        await upsertPlatformUser(trx, caller);
        // Claimed before the company row, so a retired id is refused however the insert below would fare.
        const version = await startPolicyVersion(trx, companyId);
        if (version === null) throw new ConflictError(`the company id ${companyId} is taken or was used before`, { id: companyId });
        try {
          await trx
            .insertInto('companies')
            .values({ id: companyId, name: input.name, plan_name: plan.name, user_licenses: plan.userLicenses, developer_licenses: plan.developerLicenses })
            .execute();
        } catch (error) {
          if (isUniqueViolation(error, 'companies_pkey')) throw new ConflictError(`a company with id ${companyId} already exists`, { id: companyId });
          throw error;
        }
        // A new company starts from the policy files' defaults; later edits are its own (D9, D16).
        await trx
          .insertInto('company_role_permissions')
          .values(EDITABLE_COMPANY_ROLES.map((role) => ({ company_id: companyId, role, permissions: JSON.stringify(policies.companyRoles[role]) })))
          .execute();
        await trx
          .insertInto('project_roles')
          .values(policies.projectRoles.map((r) => ({ company_id: companyId, key: r.key, name: r.name, permissions: JSON.stringify(r.permissions) })))
          .execute();
        await trx.insertInto('memberships').values({ company_id: companyId, user_id: caller.sub, status: 'active', role: 'admin', owner: true }).execute();
        await claimDomains(trx, companyId, domains);
        const view = await loadView(trx, null, companyId);
        await insertAudit(trx, companyId, { id: caller.sub, operator }, version, [{ action: 'company.create', target: `company:${companyId}`, after: view }]);
        return { ...view, version };
      });
      await announce(companyId, created.version);
      return created;
    },

    async get(caller: Caller, companyId: string): Promise<CompanyView> {
      return readCompany(deps, caller, companyId, async (rights) => {
        assertActiveMember(rights);
        return loadView(db, rights, companyId);
      });
    },

    async rename(caller: Caller, companyId: string, name: string) {
      const { result, version } = await writeCompany(
        deps,
        caller,
        companyId,
        async ({ trx, rights, audit }) => {
          assertCan(rights, MAY_EDIT_GENERAL);
          const before = await trx.selectFrom('companies').select('name').where('id', '=', companyId).executeTakeFirstOrThrow();
          await trx.updateTable('companies').set({ name }).where('id', '=', companyId).execute();
          audit({ action: 'company.rename', target: `company:${companyId}`, before, after: { name } });
          return loadView(trx, rights, companyId);
        },
        { bump: 'never', authorise: MAY_EDIT_GENERAL },
      );
      return { ...result, version };
    },

    /**
     * Owner only (D10): deletes the company and everything in it but its audit log, which
     * records the deletion itself with the company's last state (D22).
     */
    async remove(caller: Caller, companyId: string): Promise<{ version: string }> {
      const { version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        assertCan(rights, MAY_DELETE);
        audit({ action: 'company.delete', target: `company:${companyId}`, before: await loadView(trx, null, companyId) });
        // Local users and pending invitees exist only through this company: they go with it.
        const ownUsers = await trx
          .selectFrom('memberships as m')
          .innerJoin('users as u', 'u.id', 'm.user_id')
          .select('u.id')
          .where('m.company_id', '=', companyId)
          .where((eb) => eb.or([eb('u.kind', '=', 'local'), eb('u.id', 'like', `${INVITE_PREFIX}%`)]))
          .execute();
        await trx.deleteFrom('companies').where('id', '=', companyId).execute();
        if (ownUsers.length) await trx.deleteFrom('users').where('id', 'in', ownUsers.map((u) => u.id)).execute();
      }, { authorise: MAY_DELETE });
      return { version };
    },

    /** D10: the owner hands the tag to an active admin; the owner stays an admin. */
    async transferOwnership(caller: Caller, companyId: string, userId: string) {
      const { result, version } = await writeCompany(deps, caller, companyId, async ({ trx, rights, audit }) => {
        // Only the owner tag grants delete Company; ownership moves with the same right.
        assertCan(rights, MAY_DELETE);
        if (userId === caller.sub) return loadView(trx, rights, companyId);
        const target = await trx
          .selectFrom('memberships as m')
          .innerJoin('users as u', 'u.id', 'm.user_id')
          .select(['m.status', 'm.role', 'u.kind'])
          .where('m.company_id', '=', companyId)
          .where('m.user_id', '=', userId)
          .executeTakeFirst();
        if (!target) throw new NotFoundError(`member ${userId} not found`);
        if (target.kind === 'local') throw new ConflictError('local users cannot own a company: administration is for platform users (D3)', { userId, kind: 'local' });
        if (target.status !== 'active' || target.role !== 'admin') {
          throw new ConflictError('ownership passes only to an active admin', { userId, status: target.status, role: target.role });
        }
        await trx.updateTable('memberships').set({ owner: false }).where('company_id', '=', companyId).where('user_id', '=', caller.sub).execute();
        await trx.updateTable('memberships').set({ owner: true }).where('company_id', '=', companyId).where('user_id', '=', userId).execute();
        audit({ action: 'company.ownership.transfer', target: `company:${companyId}`, before: { owner: caller.sub }, after: { owner: userId } });
        return loadView(trx, rights, companyId);
      }, { authorise: MAY_DELETE });
      return { ...result, version };
    },

    /**
     * D4, D5: replaces the company's email domains; member types follow at once, being derived.
     * Each newly registered domain is proven by the caller's verified email, or vouched for by
     * the operator; domains already registered and removals need no proof. The proof comes
     * before the look-up of other companies' domains, so nobody learns who holds a domain
     * they cannot prove.
     */
    async setDomains(caller: AdminCaller, companyId: string, domains: string[]) {
      const { result, version } = await writeCompanyAs(
        deps,
        caller,
        companyId,
        async ({ trx, audit }, rights) => {
          if (rights) assertCan(rights, MAY_EDIT_DOMAINS);
          const company = await trx.selectFrom('companies').select('plan_name').where('id', '=', companyId).executeTakeFirstOrThrow();
          assertDomainsFitPlan(company.plan_name, domains);
          const current = (await trx.selectFrom('company_domains').select('domain').where('company_id', '=', companyId).orderBy('domain').execute()).map((d) => d.domain);
          const added = domains.filter((d) => !current.includes(d));
          if (!caller.operator && caller.user) assertDomainsProven(caller.user, added);
          const removed = current.filter((d) => !domains.includes(d));
          if (removed.length) await trx.deleteFrom('company_domains').where('company_id', '=', companyId).where('domain', 'in', removed).execute();
          await claimDomains(trx, companyId, added);
          audit({ action: 'company.domains.update', target: `company:${companyId}`, before: { domains: current }, after: { domains: [...domains].sort() } });
          return loadView(trx, rights, companyId);
        },
        // Member vs Guest is derived and decides nothing in the engine.
        { bump: 'never', authorise: MAY_EDIT_DOMAINS },
      );
      return { ...result, version };
    },

    /**
     * D14: plan and license counts, never below the seats in use. Only with the operator
     * credential, refused before the company is locked; a user token beside it must still
     * carry the right to edit the subscription.
     */
    async setSubscription(caller: AdminCaller, companyId: string, input: SubscriptionInput) {
      if (!caller.operator) throw platformOnly('PUT /subscription');
      const { result, version } = await writeCompanyAs(
        deps,
        caller,
        companyId,
        async ({ trx, audit }, rights) => {
          if (rights) assertCan(rights, MAY_EDIT_SUBSCRIPTION);
          const domains = await trx.selectFrom('company_domains').select('domain').where('company_id', '=', companyId).execute();
          assertDomainsFitPlan(input.plan, domains.map((d) => d.domain));
          const usage = await licenseUsage(trx, companyId);
          for (const [kind, limit] of [['user', input.userLicenses], ['developer', input.developerLicenses]] as const) {
            if (usage[kind].used > limit) {
              throw new LicenseLimitError(`${usage[kind].used} ${kind} licenses are in use; remove access before lowering the limit to ${limit}`, {
                license: kind,
                used: usage[kind].used,
                limit,
              });
            }
          }
          const company = await trx.selectFrom('companies').select('plan_name').where('id', '=', companyId).executeTakeFirstOrThrow();
          const before = { plan: { name: company.plan_name, userLicenses: usage.user.limit, developerLicenses: usage.developer.limit } };
          await trx
            .updateTable('companies')
            .set({ plan_name: input.plan, user_licenses: input.userLicenses, developer_licenses: input.developerLicenses })
            .where('id', '=', companyId)
            .execute();
          audit({
            action: 'company.subscription.update',
            target: `company:${companyId}`,
            before,
            after: { plan: { name: input.plan, userLicenses: input.userLicenses, developerLicenses: input.developerLicenses } },
          });
          return loadView(trx, rights, companyId);
        },
        { bump: 'never', authorise: MAY_EDIT_SUBSCRIPTION },
      );
      return { ...result, version };
    },
  };
}

export type CompaniesService = ReturnType<typeof createCompaniesService>;
