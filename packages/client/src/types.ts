import type {
  AccessibleAnswer,
  AccessibleRequest,
  BatchAnswer,
  BatchRequest,
  CheckAnswer,
  CheckRequest,
  EvaluationAnswer,
  EvaluationRequest,
  EvaluationsAnswer,
  EvaluationsRequest,
  RulesAnswer,
  RulesParams,
  RulesQuery,
} from './generated/api.js';

export type {
  AccessibleAnswer,
  AccessibleRequest,
  BatchAnswer,
  BatchRequest,
  CheckAnswer,
  CheckRequest,
  EvaluationAnswer,
  EvaluationRequest,
  EvaluationsAnswer,
  EvaluationsRequest,
  RulesAnswer,
};

// Named parts of the generated shapes, derived rather than written again.
export type Principal = CheckRequest['principal'];
export type Action = CheckRequest['action'];
export type Resource = CheckRequest['resource'];
export type ResourceType = Resource['type'];
export type Field = NonNullable<CheckRequest['field']>;
export type Consistency = NonNullable<CheckRequest['consistency']>;
/** One check of a batch: a check without company, principal and consistency. */
export type Question = BatchRequest['checks'][number];
export type Decision = BatchAnswer['results'][number];
/** The rules endpoint's path and query parameters, as one object. */
export type RulesRequest = RulesParams & RulesQuery;
