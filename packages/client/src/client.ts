import type { MongoAbility } from '@casl/ability';
import { accessibleAnswerOf, batchAnswerOf, checkAnswerOf, evaluationAnswerOf, evaluationsAnswerOf, rulesAnswerOf } from './answers.js';
import { createCoalescer } from './coalescer.js';
import { isCastellanError } from './errors.js';
import { createLocalAbilities, localAnswer } from './local.js';
import { createTransport, type HttpRequest, type Send } from './transport.js';
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
  RulesRequest,
} from './types.js';

export interface CastellanClientOptions {
  /** Where Castellan listens, e.g. `http://127.0.0.1:8080` for a sidecar. */
  baseUrl: string;
  /** CHECK_TOKEN, when Castellan is configured with one. */
  checkToken?: string;
  /** Deadline of each request, answer body included (default 250 ms). */
  timeoutMs?: number;
  /** The fetch to use (default the global one). */
  fetch?: typeof fetch;
  /** Coalesce concurrent checks of one principal into /v1/check/batch (default true). */
  batching?: boolean;
  /** Checks per coalesced batch (default and at most 1000, the server's limit). */
  maxBatchSize?: number;
  /** Local evaluation: how long a principal's rules are used before they are revalidated (default 1000 ms). */
  refreshMs?: number;
  /** Local evaluation: principals whose abilities are kept (default 1000, least recently used dropped). */
  maxAbilities?: number;
}

export interface CanOptions {
  /**
   * `throw` (the default): a failure rejects, as `check` does. `deny`: any failure (Castellan
   * unavailable, or the request refused) resolves false instead. Say so only where a deny is
   * the right answer to "could not ask".
   */
  onError?: 'throw' | 'deny';
}

export interface CastellanClient {
  /** One decision. Rejects with CastellanUnavailableError or CastellanRequestError; never resolves allowed on a failure. */
  check(request: CheckRequest): Promise<CheckAnswer>;
  /** Up to 1000 decisions for one principal, in request order. */
  checkBatch(request: BatchRequest): Promise<BatchAnswer>;
  accessible(request: AccessibleRequest): Promise<AccessibleAnswer>;
  /** The principal's exported rules (CASL raw rules, or packed with `format: 'packed'`). */
  rules(request: RulesRequest): Promise<RulesAnswer>;
  /** `check(...).allowed`; resolves false on a failure only with `{ onError: 'deny' }`. */
  can(request: CheckRequest, options?: CanOptions): Promise<boolean>;
  /** A CASL ability built from the principal's exported rules, cached and revalidated every `refreshMs`. Needs @casl/ability. */
  ability(company: string, userId: string, options?: { minVersion?: string }): Promise<MongoAbility>;
  /**
   * `check`, answered from the cached ability when it can be: a principal named by id, with
   * rules at least as new as `consistency.minVersion`. Otherwise it goes to the server.
   */
  checkLocally(request: CheckRequest): Promise<CheckAnswer>;
  /** AuthZEN Access Evaluation against the company's PDP: `decision` is true only for a permit; failures reject as `check` does. */
  evaluation(company: string, request: EvaluationRequest): Promise<EvaluationAnswer>;
  /** AuthZEN Access Evaluations (up to 1000): one decision per item in order, fewer when an early-stopping semantic stopped. */
  evaluations(company: string, request: EvaluationsRequest): Promise<EvaluationsAnswer>;
}

/**
 * One endpoint as the client calls it. Every method is one of these, sent through the same
 * transport (deadline, fail-closed interpretation). A new endpoint joins CLIENT_OPERATIONS in
 * codegen/openapi-types.ts (`npm run client:types` then writes its types) and comes here with
 * a guard on its answer.
 */
export interface Endpoint<Request, Answer> {
  http(request: Request): HttpRequest;
  answer(body: unknown, request: Request): Answer;
}

const encode = encodeURIComponent;

/** AuthZEN bodies name no company: the PDP's path does. */
interface AuthzenCall<Body> {
  company: string;
  body: Body;
}

const endpoints = {
  check: { http: (body: CheckRequest) => ({ method: 'POST', path: '/v1/check', body }), answer: checkAnswerOf } satisfies Endpoint<CheckRequest, CheckAnswer>,
  checkBatch: {
    http: (body: BatchRequest) => ({ method: 'POST', path: '/v1/check/batch', body }),
    answer: (body: unknown, request: BatchRequest) => batchAnswerOf(body, request.checks.length),
  } satisfies Endpoint<BatchRequest, BatchAnswer>,
  accessible: { http: (body: AccessibleRequest) => ({ method: 'POST', path: '/v1/accessible', body }), answer: accessibleAnswerOf } satisfies Endpoint<AccessibleRequest, AccessibleAnswer>,
  rules: {
    http: ({ company, userId, format, minVersion }: RulesRequest) => {
      const query = new URLSearchParams();
      if (format !== undefined) query.set('format', format);
      if (minVersion !== undefined) query.set('minVersion', minVersion);
      const search = query.size ? `?${query}` : '';
      return { method: 'GET', path: `/v1/companies/${encode(company)}/principals/${encode(userId)}/rules${search}` };
    },
    answer: rulesAnswerOf,
  } satisfies Endpoint<RulesRequest, RulesAnswer>,
  evaluation: {
    http: ({ company, body }: AuthzenCall<EvaluationRequest>) => ({ method: 'POST', path: `/authzen/${encode(company)}/access/v1/evaluation`, body }),
    answer: (body: unknown) => evaluationAnswerOf(body),
  } satisfies Endpoint<AuthzenCall<EvaluationRequest>, EvaluationAnswer>,
  evaluations: {
    http: ({ company, body }: AuthzenCall<EvaluationsRequest>) => ({ method: 'POST', path: `/authzen/${encode(company)}/access/v1/evaluations`, body }),
    answer: (body: unknown, call: AuthzenCall<EvaluationsRequest>) => evaluationsAnswerOf(body, call.body),
  } satisfies Endpoint<AuthzenCall<EvaluationsRequest>, EvaluationsAnswer>,
};

const MAX_BATCH = 1000;

export function createCastellanClient(options: CastellanClientOptions): CastellanClient {
  const send: Send = createTransport({
    baseUrl: options.baseUrl,
    checkToken: options.checkToken,
    timeoutMs: options.timeoutMs ?? 250,
    fetch: options.fetch ?? globalThis.fetch,
  });

  async function call<Request, Answer>(endpoint: Endpoint<Request, Answer>, request: Request): Promise<Answer> {
    const { body } = await send(endpoint.http(request));
    return endpoint.answer(body, request);
  }

  const local = createLocalAbilities({
    refreshMs: options.refreshMs ?? 1000,
    maxEntries: options.maxAbilities ?? 1000,
    async fetchRules(company, userId, etag, minVersion) {
      const http = endpoints.rules.http({ company, userId, ...(minVersion !== undefined ? { minVersion } : {}) });
      const exchange = await send({ ...http, headers: etag ? { 'if-none-match': etag } : {} });
      if (exchange.status === 304) return null;
      return { answer: rulesAnswerOf(exchange.body), etag: exchange.headers.get('etag') };
    },
  });

  /** Every answer's version tells the local cache its company moved on. */
  const seen = <A extends { version: string }>(company: string, answer: A): A => {
    local.observe(company, answer.version);
    return answer;
  };

  const single = (request: CheckRequest) => call(endpoints.check, request);
  const coalesce =
    options.batching === false
      ? single
      : createCoalescer({ maxBatch: Math.min(options.maxBatchSize ?? MAX_BATCH, MAX_BATCH), single, batch: (request) => call(endpoints.checkBatch, request) });

  const client: CastellanClient = {
    check: (request) => coalesce(request).then((answer) => seen(request.company, answer)),
    checkBatch: (request) => call(endpoints.checkBatch, request).then((answer) => seen(request.company, answer)),
    accessible: (request) => call(endpoints.accessible, request).then((answer) => seen(request.company, answer)),
    rules: (request) => call(endpoints.rules, request).then((answer) => seen(request.company, answer)),
    evaluation: (company, body) => call(endpoints.evaluation, { company, body }),
    evaluations: (company, body) => call(endpoints.evaluations, { company, body }),

    async can(request, canOptions = {}) {
      try {
        return (await client.check(request)).allowed === true;
      } catch (error) {
        if (canOptions.onError === 'deny' && isCastellanError(error)) return false;
        throw error;
      }
    },

    async ability(company, userId, abilityOptions = {}) {
      const minVersion = abilityOptions.minVersion === undefined ? undefined : BigInt(abilityOptions.minVersion);
      return (await local.get(company, userId, minVersion)).ability;
    },

    async checkLocally(request) {
      if (!('id' in request.principal)) return client.check(request);
      const { company } = request;
      const userId = request.principal.id;
      const wanted = request.consistency?.minVersion;
      const held = local.peek(company, userId);
      // Newer than what is held: the server answers, and its version makes the next local check revalidate.
      if (wanted !== undefined && (!held || held.version < BigInt(wanted))) return client.check(request);
      return localAnswer(await local.get(company, userId), request);
    },
  };
  return client;
}
