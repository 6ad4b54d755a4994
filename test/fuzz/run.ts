import http from 'node:http';
import fc from 'fast-check';
import { endpointsOf, fuzzCases, reproducer, type FuzzCase, type OpenApiDocument } from './cases.js';
import { call, send, type RawResponse } from './http.js';
import { healthz, startFuzzServer, type FuzzServer } from './server.js';
import { createWorld } from './world.js';

/** The error codes of ../shared/API.md with their statuses, plus too_many_requests (login lockout). */
export const CONTRACT_CODES: Readonly<Record<string, number>> = {
  invalid_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  last_admin: 409,
  role_immutable: 409,
  license_limit: 409,
  domain_taken: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  too_many_requests: 429,
  unavailable: 503,
};

const REQUEST_TIMEOUT_MS = 15_000;
const CONCURRENCY = 4;

/** What is wrong with an answer, or null when it keeps the contract. */
export function judge(fuzzCase: FuzzCase, response: RawResponse): { problem: string | null; outcome: string } {
  if (response.kind === 'failed') return { problem: `no answer: ${response.error}`, outcome: `no answer (${response.error})` };
  const { status } = response;
  const text = response.body.toString('utf8');
  const sent = fuzzCase.request.body?.length ?? 0;
  if (status >= 400 && response.size > 2 * sent + 16 * 1024) {
    // An error may name what was wrong, not send the request back several times over.
    return { problem: `${status} error body of ${response.size} bytes for a request body of ${sent}`, outcome: `${status} oversized` };
  }
  if (status >= 400) {
    let code: unknown;
    let message: unknown;
    try {
      ({ code, message } = (JSON.parse(text) as { error: { code?: unknown; message?: unknown } }).error);
    } catch {
      return { problem: `${status} without a JSON error body: ${JSON.stringify(text.slice(0, 200))}`, outcome: String(status) };
    }
    const outcome = `${status} ${String(code)}`;
    // A minVersion the company has not reached is answered 503 (never from older data): the one 5xx a client's input can earn.
    const details = (JSON.parse(text) as { error: { details?: { minVersion?: unknown; currentVersion?: unknown } } }).error.details;
    const behindMinVersion = status === 503 && code === 'unavailable' && details?.minVersion !== undefined && details.currentVersion !== undefined;
    if (status >= 500 && !behindMinVersion) return { problem: `${outcome}: ${String(message)}`, outcome };
    if (typeof code !== 'string' || !(code in CONTRACT_CODES)) return { problem: `${status} with code ${JSON.stringify(code)}, not one of the contract`, outcome };
    if (typeof message !== 'string' || message.length === 0) return { problem: `${outcome} without a message`, outcome };
    if (!/^application\/json/.test(String(response.headers['content-type']))) return { problem: `${outcome} with content-type ${String(response.headers['content-type'])}`, outcome };
    // The check API's lean handler answers a wrong method 405 with an Allow header, as HTTP asks; everything else keeps the contract's status for its code.
    const wrongMethod = status === 405 && code === 'invalid_request' && response.headers.allow !== undefined;
    if (CONTRACT_CODES[code] !== status && !wrongMethod) return { problem: `${outcome}: the contract answers ${code} with ${CONTRACT_CODES[code]}`, outcome };
    return { problem: null, outcome: code };
  }
  const outcome = String(status);
  if (fuzzCase.onEndpoint && !fuzzCase.endpoint.statuses.has(status)) return { problem: `${status}, which the document does not list for this endpoint`, outcome };
  return { problem: null, outcome: status < 300 ? 'success' : outcome };
}

export interface FuzzFailure {
  endpoint: string;
  problem: string;
  reproducer: string;
  notes: string[];
  seed: number;
  /** fast-check's path to the shrunk case, with the seed: `fc.assert(..., { seed, path })` replays it. */
  path: string | undefined;
}

export interface FuzzReport {
  /** How many endpoints /openapi.json lists. */
  documented: number;
  cases: number;
  seconds: number;
  /** Each outcome (an error code, or `success`) with how often it came. */
  outcomes: Record<string, number>;
  /** Per endpoint: cases sent and how many were answered with a success. */
  endpoints: Record<string, { cases: number; successes: number }>;
  failures: FuzzFailure[];
  /** Lines the server logged at error level, or that were not JSON log lines (a crash's trace). */
  serverErrors: string[];
  /** Set when the server died or stopped answering /healthz. */
  serverDown: string | null;
}

export interface FuzzOptions {
  seed: number;
  /** Cases per round; a round builds a fresh world first (earlier rounds may have deleted theirs). */
  casesPerRound: number;
  rounds?: number;
  /** Stop starting rounds after this long; a running round is cut short at the same moment. */
  timeLimitMs?: number;
  /** Stop at the first failure (CI), or note it and go on with the next round (long runs). */
  stopOnFailure?: boolean;
  log?: (line: string) => void;
  /** A server already running (tests of the fuzzer itself); else one is started and stopped. */
  server?: FuzzServer;
}

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {});
  const server = options.server ?? (await startFuzzServer());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const started = performance.now();
  const deadline = options.timeLimitMs === undefined ? Infinity : started + options.timeLimitMs;
  const report: FuzzReport = { documented: 0, cases: 0, seconds: 0, outcomes: {}, endpoints: {}, failures: [], serverErrors: [], serverDown: null };
  const seen = new Set<string>();
  try {
    const document = (await call(agent, server.port, 'GET', '/openapi.json')).body as OpenApiDocument;
    const endpoints = endpointsOf(document);
    report.documented = endpoints.length;
    log(`fuzzing ${endpoints.length} endpoints of /openapi.json at ${server.url}, seed ${options.seed}`);

    for (let round = 0; options.rounds === undefined || round < options.rounds; round++) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      const world = await createWorld(agent, server.port, round);
      const seed = options.seed + round;
      let last: { fuzzCase: FuzzCase; problem: string } | undefined;
      const one = async (fuzzCase: FuzzCase): Promise<boolean> => {
        const response = await send(agent, server.port, fuzzCase.request, REQUEST_TIMEOUT_MS);
        if (response.kind === 'failed' && response.error.startsWith('client refused')) return true;
        const { problem, outcome } = judge(fuzzCase, response);
        const name = `${fuzzCase.endpoint.method} ${fuzzCase.endpoint.path}`;
        const counts = (report.endpoints[name] ??= { cases: 0, successes: 0 });
        counts.cases += 1;
        if (outcome === 'success') counts.successes += 1;
        report.cases += 1;
        report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
        if (problem) last = { fuzzCase, problem };
        return problem === null;
      };
      // Cases go in small concurrent groups: the server waits on PostgreSQL for much of a request, and
      // concurrent writes meet on the company lock as real clients' do.
      const property = fc.asyncProperty(fc.array(fuzzCases(endpoints, world), { minLength: CONCURRENCY, maxLength: CONCURRENCY }), async (group) =>
        (await Promise.all(group.map(one))).every(Boolean),
      );
      const details = await fc.check(property, {
        seed,
        numRuns: Math.ceil(options.casesPerRound / CONCURRENCY),
        plugins: Number.isFinite(deadline) ? [fc.interruptAfterTimeLimit(Math.max(1, remaining))] : [],
      });
      if (details.failed && last) {
        const failure: FuzzFailure = {
          endpoint: `${last.fuzzCase.endpoint.method} ${last.fuzzCase.endpoint.path}`,
          problem: last.problem,
          reproducer: reproducer(server.port, last.fuzzCase),
          notes: last.fuzzCase.notes,
          seed,
          path: details.counterexamplePath ?? undefined,
        };
        const signature = `${failure.endpoint} ${failure.problem.slice(0, 60)}`;
        if (!seen.has(signature)) {
          seen.add(signature);
          report.failures.push(failure);
          log(`FAILURE on ${failure.endpoint}: ${failure.problem}\n  ${failure.notes.join('; ') || 'no mutation'}\n  ${failure.reproducer}`);
        }
      } else if (details.failed) {
        report.failures.push({ endpoint: '(runner)', problem: String(details.errorInstance ?? 'fast-check failed'), reproducer: '', notes: [], seed, path: details.counterexamplePath ?? undefined });
      }
      if (server.exited() !== null) report.serverDown = `the server exited (${server.exited()})`;
      else if ((await healthz(server.port, 5000)) !== 200) report.serverDown = 'the server no longer answers /healthz';
      if (report.serverDown || (report.failures.length && options.stopOnFailure)) break;
      log(`round ${round}: ${report.cases} cases, ${rate(report.cases, started)} cases/s, ${Object.keys(report.outcomes).length} outcomes`);
    }
  } finally {
    agent.destroy();
    report.seconds = (performance.now() - started) / 1000;
    report.serverErrors = server.errorLines();
    if (!options.server) await server.stop();
  }
  return report;
}

const rate = (cases: number, started: number) => Math.round(cases / ((performance.now() - started) / 1000));

/** The summary a long run prints. */
export function summarise(report: FuzzReport): string {
  const outcomes = Object.entries(report.outcomes).sort(([, a], [, b]) => b - a);
  const codes = outcomes.map(([code]) => code).filter((code) => code in CONTRACT_CODES);
  const quiet = Object.entries(report.endpoints)
    .filter(([, counts]) => counts.successes === 0)
    .map(([name]) => name);
  return [
    `${report.cases} cases in ${report.seconds.toFixed(1)} s: ${Math.round(report.cases / Math.max(report.seconds, 0.001))} cases/s`,
    `error codes seen (${codes.length}): ${codes.join(', ')}`,
    `outcomes: ${outcomes.map(([outcome, n]) => `${outcome} ${n}`).join(', ')}`,
    `endpoints never answered with a success: ${quiet.length ? quiet.join(', ') : 'none'}`,
    `failures: ${report.failures.length}`,
    ...report.failures.map((f) => `  ${f.endpoint}: ${f.problem}\n    ${f.notes.join('; ') || 'no mutation'}\n    ${f.reproducer}\n    seed ${f.seed}, path ${f.path ?? '-'}`),
    `server: ${report.serverDown ?? 'up, answering /healthz'}; ${report.serverErrors.length} error lines logged`,
    ...report.serverErrors.slice(0, 10).map((line) => `  ${line.slice(0, 400)}`),
  ].join('\n');
}
