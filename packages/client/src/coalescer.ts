import { CastellanRequestError, copyError } from './errors.js';
import type { BatchAnswer, BatchRequest, CheckAnswer, CheckRequest, Question } from './types.js';

interface Call {
  request: CheckRequest;
  resolve(answer: CheckAnswer): void;
  reject(error: unknown): void;
}

export interface CoalescerDeps {
  maxBatch: number;
  single(request: CheckRequest): Promise<CheckAnswer>;
  batch(request: BatchRequest): Promise<BatchAnswer>;
}

/** Checks share a batch only when everything but the question is the same. */
export function groupKey(request: CheckRequest): string {
  const principal = 'id' in request.principal ? `i${request.principal.id}` : `t${request.principal.token}`;
  return JSON.stringify([request.company, principal, request.consistency?.minVersion ?? null]);
}

export function questionOf(request: CheckRequest): Question {
  const question: Question = { action: request.action, resource: request.resource };
  if (request.field !== undefined) question.field = request.field;
  return question;
}

/** The check a batch's 400 is about (`details.path` "checks.3.action"), or null when it is about the whole request. */
export function refusedCheck(error: unknown): { index: number; path: string } | null {
  if (!(error instanceof CastellanRequestError) || error.status !== 400) return null;
  const match = /^checks\.(\d+)(?:\.(.*))?$/.exec(String(error.details?.path ?? ''));
  return match ? { index: Number(match[1]), path: match[2] ?? '(body)' } : null;
}

/** The refusal as that caller's own check would have had it: paths without the batch's `checks.<i>.`. */
function refusalFor(error: CastellanRequestError, path: string): CastellanRequestError {
  const message = error.message.replace(/^checks\.\d+\./, '');
  return new CastellanRequestError(error.status, error.code, message, { ...error.details, path });
}

/**
 * DataLoader-style: checks for one company and principal started in the same turn of the
 * event loop go as one /v1/check/batch (a lone check as /v1/check), flushed by setImmediate,
 * so concurrent requests a service reads in one poll phase share a round trip. Each caller
 * gets its own answer or its own error: a check the server refuses is answered to its caller
 * and the rest are sent again; a batch too large for the body limit is halved.
 */
export function createCoalescer(deps: CoalescerDeps) {
  let groups = new Map<string, Call[]>();
  let scheduled = false;

  async function send(calls: Call[]): Promise<void> {
    if (calls.length === 1) {
      const [call] = calls as [Call];
      return deps.single(call.request).then(call.resolve, call.reject);
    }
    const { company, principal, consistency } = calls[0]!.request;
    const request: BatchRequest = { company, principal, checks: calls.map((c) => questionOf(c.request)) };
    if (consistency !== undefined) request.consistency = consistency;
    let answer: BatchAnswer;
    try {
      answer = await deps.batch(request);
    } catch (error) {
      return failed(calls, error);
    }
    calls.forEach((call, i) => call.resolve({ ...answer.results[i]!, version: answer.version }));
  }

  async function failed(calls: Call[], error: unknown): Promise<void> {
    const refused = refusedCheck(error);
    if (refused && refused.index < calls.length) {
      calls[refused.index]!.reject(refusalFor(error as CastellanRequestError, refused.path));
      return send(calls.filter((_, i) => i !== refused.index));
    }
    if (error instanceof CastellanRequestError && error.status === 413) {
      const half = Math.ceil(calls.length / 2);
      await Promise.all([send(calls.slice(0, half)), send(calls.slice(half))]);
      return;
    }
    for (const call of calls) call.reject(copyError(error));
  }

  function flush(): void {
    scheduled = false;
    const due = groups;
    groups = new Map();
    for (const calls of due.values()) void send(calls);
  }

  return function enqueue(request: CheckRequest): Promise<CheckAnswer> {
    return new Promise((resolve, reject) => {
      const key = groupKey(request);
      let calls = groups.get(key);
      if (!calls) groups.set(key, (calls = []));
      calls.push({ request, resolve, reject });
      if (calls.length >= deps.maxBatch) {
        groups.delete(key);
        void send(calls);
      } else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
}
