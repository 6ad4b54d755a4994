import { z } from 'zod';

/**
 * The OpenID AuthZEN Authorization API 1.0 request and answer shapes. Objects are not
 * strict: the specification has receivers ignore unknown fields (unlike the rest of
 * Castellan's API), so zod drops them. A missing required field names itself.
 */

export const MAX_EVALUATIONS = 1000;
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
export const EVALUATIONS_SEMANTICS = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] as const;

const missingOr = (expected: string) => (issue: { input?: unknown }) => (issue.input === undefined ? `required (${expected})` : `must be ${expected}`);
const text = (what = 'a string') => z.string({ error: missingOr(what) });
const object = <S extends z.ZodRawShape>(shape: S, what: string) => z.object(shape, { error: missingOr(what) });
const properties = z.record(z.string(), z.unknown(), { error: missingOr('an object') }).optional();

export const subjectSchema = object({ type: text(), id: text(), properties }, 'an object with type and id').describe('AuthZEN Subject: type "user" and a user id');
/** A search for subjects names only their type; an id, if sent, is ignored (spec 8.4). */
export const searchedSubjectSchema = object({ type: text(), properties }, 'an object with type').describe('AuthZEN Subject without id: the type searched for ("user")');
export const actionSchema = object({ name: text(), properties }, 'an object with name').describe('AuthZEN Action: name is an action of the catalog');
export const resourceSchema = object(
  {
    type: text(),
    id: text().optional(),
    properties: properties.describe("the resource's catalog attributes (projectId for project-scoped types) and, for sectioned types, field"),
  },
  'an object with type',
).describe('AuthZEN Resource: type is a subject of the catalog');
export const contextSchema = z
  .record(z.string(), z.unknown(), { error: missingOr('an object') })
  .describe('AuthZEN Context: minVersion, a decimal string, is /v1/check consistency.minVersion; other keys are ignored');

export type Subject = z.infer<typeof subjectSchema>;
export type Action = z.infer<typeof actionSchema>;
export type Resource = z.infer<typeof resourceSchema>;
export type Context = z.infer<typeof contextSchema>;

export const evaluationBody = object({ subject: subjectSchema, action: actionSchema, resource: resourceSchema, context: contextSchema.optional() }, 'a JSON object');

export const evaluationsBody = object(
  {
    subject: subjectSchema.optional(),
    action: actionSchema.optional(),
    resource: resourceSchema.optional(),
    context: contextSchema.optional(),
    evaluations: z
      .array(z.unknown(), { error: missingOr('an array') })
      .max(MAX_EVALUATIONS, `at most ${MAX_EVALUATIONS} evaluations`)
      .optional()
      .describe('each item overrides the top-level subject, action, resource and context it names; empty or absent: one evaluation of the top level'),
    options: object({ evaluations_semantic: z.enum(EVALUATIONS_SEMANTICS).optional() }, 'an object').optional(),
  },
  'a JSON object',
);

export const pageSchema = object(
  {
    token: text().optional().describe("next_token of the previous page; subject, action, resource and context must be the first page's, page.limit too or left out"),
    limit: z
      .number({ error: missingOr('a whole number') })
      .int('must be a whole number')
      .min(0, 'must be at least 0')
      .max(MAX_PAGE_LIMIT, `must be at most ${MAX_PAGE_LIMIT}`)
      .optional()
      .describe(`results per page, ${DEFAULT_PAGE_LIMIT} by default`),
  },
  'an object',
);

export const subjectSearchBody = object({ subject: searchedSubjectSchema, action: actionSchema, resource: resourceSchema, context: contextSchema.optional(), page: pageSchema.optional() }, 'a JSON object');
export const resourceSearchBody = object({ subject: subjectSchema, action: actionSchema, resource: resourceSchema, context: contextSchema.optional(), page: pageSchema.optional() }, 'a JSON object');
export const actionSearchBody = object({ subject: subjectSchema, resource: resourceSchema, context: contextSchema.optional(), page: pageSchema.optional() }, 'a JSON object');

export type EvaluationBody = z.infer<typeof evaluationBody>;
export type EvaluationsBody = z.infer<typeof evaluationsBody>;
export type Page = z.infer<typeof pageSchema>;

// ---- answers ------------------------------------------------------------------------------

const version = z.string().describe('the company policy version the answer was taken at');
export const decisionContext = z.object({
  reason_admin: z.object({ en: z.string() }).optional().describe('the role and rule that decided, or that nothing allowed it'),
  version: version.optional(),
  error: z.object({ status: z.number().int(), message: z.string() }).optional().describe('why an item of evaluations could not be evaluated (its decision is then false)'),
});
export const decisionAnswer = z.object({ decision: z.boolean(), context: decisionContext.optional() });
export const evaluationsAnswer = z.union([z.object({ evaluations: z.array(decisionAnswer).describe('in request order; shortened by deny_on_first_deny and permit_on_first_permit') }), decisionAnswer]);
const pageAnswer = z.object({ next_token: z.string().describe('"" on the last page'), count: z.number().int().describe('results on this page') });
const searchAnswer = <T extends z.ZodType>(result: T) => z.object({ page: pageAnswer, context: z.object({ version }), results: z.array(result) });
export const subjectSearchAnswer = searchAnswer(z.object({ type: z.literal('user'), id: z.string() }));
export const resourceSearchAnswer = searchAnswer(z.object({ type: z.string(), id: z.string() }));
export const actionSearchAnswer = searchAnswer(z.object({ name: z.string() }));
export const metadataAnswer = z.object({
  policy_decision_point: z.string().describe('the PDP identifier: the base URL and the company (RFC 8615: the well-known path is inserted before the company)'),
  access_evaluation_endpoint: z.string(),
  access_evaluations_endpoint: z.string(),
  search_subject_endpoint: z.string(),
  search_resource_endpoint: z.string(),
  search_action_endpoint: z.string(),
});
