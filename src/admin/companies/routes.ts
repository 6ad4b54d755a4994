import { operatorRoute, userRoute, type Route } from '../../http/route.js';
import { companyParams, versionOnly } from '../schemas.js';
import { companyView, companyWritten, createCompanyBody, domainsBody, renameCompanyBody, subscriptionBody, transferOwnershipBody } from './schemas.js';
import type { AdminDeps } from '../router.js';
import { createCompaniesService } from './service.js';

const tag = 'Companies';

export function companiesRoutes({ db, policies, announce, logger }: AdminDeps): Route[] {
  const service = createCompaniesService({ db, policies, announce });
  return [
    userRoute({
      method: 'post',
      path: '/v1/companies',
      summary:
        'Create a company; the caller becomes its owner and an active admin. A plan, and domains other than the caller\'s own verified one, need the operator credential beside the token',
      tag,
      body: createCompanyBody,
      operator: 'beside',
      success: { status: 201, description: 'the company', schema: companyWritten },
      errors: ['unauthenticated', 'forbidden', 'conflict', 'domain_taken'],
      handle: async ({ body }, caller, operator) => ({ body: await service.create(caller, body, operator) }),
    }),
    userRoute({
      method: 'get',
      path: '/v1/companies/{company}',
      summary: 'Read a company (settings sections the caller may not view are left out)',
      tag,
      params: companyParams,
      success: { status: 200, description: 'the company', schema: companyView },
      errors: ['unauthenticated', 'not_found'],
      handle: async ({ params }, caller) => ({ body: await service.get(caller, params.company) }),
    }),
    userRoute({
      method: 'patch',
      path: '/v1/companies/{company}',
      summary: 'Rename a company (edit CompanySettings general)',
      tag,
      params: companyParams,
      body: renameCompanyBody,
      success: { status: 200, description: 'the company', schema: companyWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params, body }, caller) => ({ body: await service.rename(caller, params.company, body.name) }),
    }),
    userRoute({
      method: 'delete',
      path: '/v1/companies/{company}',
      summary: 'Delete a company and all its data but its audit log, which records the deletion (owner only)',
      tag,
      params: companyParams,
      success: { status: 200, description: 'deleted', schema: versionOnly },
      errors: ['unauthenticated', 'forbidden', 'not_found'],
      handle: async ({ params }, caller) => {
        const deleted = await service.remove(caller, params.company);
        // Also in the service log: where companies disappear, operators look there first.
        logger.info({ company: params.company, actor: caller.sub, version: deleted.version }, 'company deleted');
        return { body: deleted };
      },
    }),
    userRoute({
      method: 'post',
      path: '/v1/companies/{company}/ownership',
      summary: 'Hand the owner tag to an active admin (owner only)',
      tag,
      params: companyParams,
      body: transferOwnershipBody,
      success: { status: 200, description: 'the company with its new owner', schema: companyWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict'],
      handle: async ({ params, body }, caller) => ({ body: await service.transferOwnership(caller, params.company, body.userId) }),
    }),
    operatorRoute({
      method: 'put',
      path: '/v1/companies/{company}/domains',
      summary:
        "Replace the email domains whose users are Members (edit CompanySettings domains); each new domain needs the caller's own verified email at it, or the operator credential",
      tag,
      params: companyParams,
      body: domainsBody,
      success: { status: 200, description: 'the company', schema: companyWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict', 'domain_taken'],
      handle: async ({ params, body }, caller) => ({ body: await service.setDomains(caller, params.company, body.domains) }),
    }),
    operatorRoute({
      method: 'put',
      path: '/v1/companies/{company}/subscription',
      summary: 'Set the plan and license counts: the operator credential, alone or beside a token with edit CompanySettings subscription',
      tag,
      params: companyParams,
      body: subscriptionBody,
      success: { status: 200, description: 'the company', schema: companyWritten },
      errors: ['unauthenticated', 'forbidden', 'not_found', 'conflict', 'license_limit'],
      handle: async ({ params, body }, caller) => ({ body: await service.setSubscription(caller, params.company, body) }),
    }),
  ];
}
