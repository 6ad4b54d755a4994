import type { z } from 'zod';
import { createCheckSchemas } from '../../check/schemas.js';
import type { Catalog } from '../../policy/catalog.js';

/**
 * The explain endpoint takes a check's question minus the company (the path names it), with
 * the principal by id, and answers exactly what /v1/check answers: the schemas are the check
 * API's own, so the two cannot drift apart.
 */
export function accessSchemas(catalog: Catalog) {
  const check = createCheckSchemas(catalog);
  return { explainBody: check.principalQuestion, explainAnswer: check.checkAnswer };
}

export type AccessSchemas = ReturnType<typeof accessSchemas>;
export type ExplainInput = z.output<AccessSchemas['explainBody']>;
export type ExplainAnswer = z.output<AccessSchemas['explainAnswer']>;
