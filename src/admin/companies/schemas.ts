import { z } from 'zod';
import { displayName } from '../../http/text.js';
import { planSchema } from '../../policy/catalog.js';
import { domainSchema, idSchema, userIdSchema, versionSchema } from '../schemas.js';

const { userLicenses: licenseCount } = planSchema.shape;
const planName = displayName(64);
const companyName = displayName(200);
/** A plan as the operator chooses it: the policy files' shape, with a name people read. */
const chosenPlan = planSchema.extend({ name: planName });
const domainList = z
  .array(domainSchema)
  .max(100)
  .refine((domains) => new Set(domains).size === domains.length, 'must not repeat a domain');

export const createCompanyBody = z.strictObject({
  id: idSchema.optional(),
  name: companyName,
  domains: domainList.optional(),
  plan: chosenPlan.optional().describe('needs the operator credential; without one the company gets the default plan of policies/plans.json'),
});
export type CreateCompanyInput = z.infer<typeof createCompanyBody>;

export const renameCompanyBody = z.strictObject({ name: companyName });
export const transferOwnershipBody = z.strictObject({ userId: userIdSchema });
export const domainsBody = z.strictObject({ domains: domainList });
export const subscriptionBody = z.strictObject({ plan: planName, userLicenses: licenseCount, developerLicenses: licenseCount });
export type SubscriptionInput = z.infer<typeof subscriptionBody>;

/**
 * A company as its caller may see it: sections of the settings the caller's role cannot
 * view (D8: an editor does not see the subscription) are left out, not blanked.
 */
export const companyView = z.object({
  id: idSchema,
  name: z.string(),
  owner: userIdSchema.nullable(),
  createdAt: z.string(),
  domains: z.array(z.string()).optional(),
  plan: z.object({ name: z.string(), userLicenses: z.number().int(), developerLicenses: z.number().int() }).optional(),
  usage: z.object({ userLicenses: z.number().int(), developerLicenses: z.number().int() }).optional(),
});
export type CompanyView = z.infer<typeof companyView>;
export const companyWritten = companyView.extend({ version: versionSchema });
