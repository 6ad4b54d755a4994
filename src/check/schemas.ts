import { z } from 'zod';
import { userIdSchema } from '../auth/user-id.js';
import { idSchema as id, type Catalog } from '../policy/catalog.js';

export const MAX_BATCH = 1000;
export const VERSION_PATTERN = /^\d{1,20}$/;

const version = z.string().regex(VERSION_PATTERN, 'must be a decimal string');

/**
 * The check API's request and answer shapes, built once from the catalog so that actions,
 * resource types and fields outside it are refused by the schema itself (and listed in the
 * OpenAPI document). Whether an action belongs to the named type, or a field to it, is a
 * refinement on top.
 */
export function createCheckSchemas(catalog: Catalog) {
  const subjects = Object.keys(catalog.subjects) as [string, ...string[]];
  const actions = [...new Set(subjects.flatMap((s) => catalog.subjects[s]!.actions))] as [string, ...string[]];
  const fields = [...new Set(subjects.flatMap((s) => catalog.subjects[s]!.fields ?? []))] as [string, ...string[]];

  const principal = z
    .union([
      z.strictObject({ id: userIdSchema }),
      z.strictObject({ token: z.string().min(1).max(8192).describe("the end user's JWT; its sub is used") }),
    ])
    .describe('exactly one of id and token');
  const consistency = z
    .strictObject({
      minVersion: version
        .optional()
        .describe('answer from data at least this new (a write answered it as version); 503 unavailable, with details.currentVersion, while the company has not reached it'),
    })
    .optional();
  const resource = z.strictObject({
    type: z.enum(subjects),
    id: id.optional(),
    attributes: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .optional()
      .describe('condition attributes of the type (projectId for project-scoped types); others are ignored'),
  });
  const questionShape = { action: z.enum(actions), resource, field: z.enum(fields).optional().describe('a section, for types that have them') };

  /** The action must be one of the type's, the field one of its fields. */
  const belongsToType = (question: { action: string; resource: { type: string }; field?: string | undefined }, ctx: z.RefinementCtx) => {
    const spec = catalog.subjects[question.resource.type]!;
    if (!spec.actions.includes(question.action)) ctx.addIssue({ code: 'custom', path: ['action'], message: `"${question.action}" is not an action of ${question.resource.type}` });
    if (question.field !== undefined && !spec.fields?.includes(question.field)) {
      ctx.addIssue({ code: 'custom', path: ['field'], message: `"${question.field}" is not a field of ${question.resource.type}` });
    }
  };

  const decision = z.object({ allowed: z.boolean(), reason: z.string().describe('the role and rule that decided, or that nothing allowed it') });

  return {
    checkBody: z.strictObject({ company: id, principal, ...questionShape, consistency }).superRefine(belongsToType),
    /** A check's question about a principal named by id, in a company given elsewhere (the admin API's access explain). */
    principalQuestion: z.strictObject({ principal: z.strictObject({ id: userIdSchema }), ...questionShape, consistency }).superRefine(belongsToType),
    batchBody: z.strictObject({
      company: id,
      principal,
      checks: z.array(z.strictObject(questionShape).superRefine(belongsToType)).min(1).max(MAX_BATCH),
      consistency,
    }),
    accessibleBody: z
      .strictObject({ company: id, principal, action: z.enum(actions), resourceType: z.enum(subjects), consistency })
      .superRefine((body, ctx) => {
        if (!catalog.subjects[body.resourceType]!.actions.includes(body.action)) {
          ctx.addIssue({ code: 'custom', path: ['action'], message: `"${body.action}" is not an action of ${body.resourceType}` });
        }
      }),
    rulesParams: z.strictObject({ company: id, userId: userIdSchema }),
    rulesQuery: z.strictObject({ format: z.enum(['raw', 'packed']).optional(), minVersion: version.optional() }),
    checkAnswer: decision.extend({ version }),
    batchAnswer: z.object({ version, results: z.array(decision).describe('in request order') }),
    rulesAnswer: z.object({
      version,
      rules: z.array(z.unknown()).describe('CASL raw rules for createMongoAbility, or packed rules (format=packed) for unpackRules'),
    }),
    accessibleAnswer: z.object({
      version,
      kind: z.enum(['all', 'none', 'some', 'conditional']),
      ids: z.array(z.string()).optional().describe('with kind some: the ids (Project: only projects registered in the company)'),
      filter: z.record(z.string(), z.unknown()).optional().describe('with kind conditional: a MongoDB-style condition tree on the resource attributes'),
    }),
  };
}

export type CheckSchemas = ReturnType<typeof createCheckSchemas>;
