import type { IncomingHttpHeaders } from 'node:http';
import type { Catalog } from '../policy/catalog.js';
import type { RouteDefinition } from '../policy/routes.js';
import { groupByPrincipal, type Case } from './cases.js';
import type { AnswerReader, PreparedRequest } from './engine.js';
import { createPathFinder } from './gateway-paths.js';
import type { Answer } from './recorder.js';

export const ENDPOINTS = ['check', 'batch', 'forward-auth', 'authzen'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export interface TargetOptions {
  endpoint: Endpoint;
  batchSize: number;
  checkToken: string | null;
  catalog: Catalog;
  routes: readonly RouteDefinition[];
}

/** A workload turned into requests of one endpoint, with the reader of that endpoint's answers. */
export interface PreparedTarget {
  /** "POST /v1/check", as the output names the target. */
  label: string;
  requests: PreparedRequest[];
  /** Cases the endpoint cannot carry, and why. */
  skipped: number;
  skippedWhy: string | null;
  read: AnswerReader;
}

const json = 'application/json';

/** An unexpected status, named with the contract's error code when the body carries one. */
function statusError(status: number, body: string): Answer {
  let code = '';
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown } };
    if (typeof parsed.error?.code === 'string' && /^[a-z_]{1,40}$/.test(parsed.error.code)) code = ` ${parsed.error.code}`;
  } catch {
    // not JSON: the status alone
  }
  return { ok: false, error: `HTTP ${status}${code}` };
}

const header = (headers: IncomingHttpHeaders, name: string): string | null => {
  const value = headers[name];
  return typeof value === 'string' ? value : Array.isArray(value) ? (value[0] ?? null) : null;
};

export const readers: Record<Endpoint, AnswerReader> = {
  check(status, _headers, body) {
    if (status !== 200) return statusError(status, body);
    const answer = JSON.parse(body) as { allowed?: unknown; version?: unknown };
    if (typeof answer.allowed !== 'boolean') return { ok: false, error: 'answer without "allowed"' };
    return { ok: true, decisions: [answer.allowed], version: typeof answer.version === 'string' ? answer.version : null };
  },
  batch(status, _headers, body) {
    if (status !== 200) return statusError(status, body);
    const answer = JSON.parse(body) as { results?: Array<{ allowed?: unknown }>; version?: unknown };
    if (!Array.isArray(answer.results) || !answer.results.every((r) => typeof r?.allowed === 'boolean')) return { ok: false, error: 'answer without "results"' };
    return { ok: true, decisions: answer.results.map((r) => r.allowed as boolean), version: typeof answer.version === 'string' ? answer.version : null };
  },
  'forward-auth'(status, headers) {
    const version = header(headers, 'x-castellan-version');
    if (status === 200) return { ok: true, decisions: [true], version };
    if (status === 403) {
      // The gateway's own credential refused is a 403 too (gateways read only 200 as allow): an error of the setup, not a deny.
      if (header(headers, 'x-castellan-reason')?.startsWith("the gateway's credential")) return { ok: false, error: 'HTTP 403 check token refused (X-Castellan-Check-Token)' };
      return { ok: true, decisions: [false], version };
    }
    return { ok: false, error: status === 401 ? "HTTP 401 the user's token was refused" : `HTTP ${status}` };
  },
  authzen(status, _headers, body) {
    if (status !== 200) return statusError(status, body);
    const answer = JSON.parse(body) as { decision?: unknown; context?: { version?: unknown } };
    if (typeof answer.decision !== 'boolean') return { ok: false, error: 'answer without "decision"' };
    return { ok: true, decisions: [answer.decision], version: typeof answer.context?.version === 'string' ? answer.context.version : null };
  },
};

function checkRequests(cases: readonly Case[], auth: Record<string, string>): PreparedRequest[] {
  return cases.map((c) => ({ method: 'POST', path: '/v1/check', headers: { 'content-type': json, ...auth }, body: JSON.stringify(c.body), expect: [c.expect] }));
}

/**
 * One principal's questions per batch, `size` of them; a principal with fewer has its own
 * questions repeated to fill the batch, so every request carries the same number of checks.
 */
function batchRequests(cases: readonly Case[], size: number, auth: Record<string, string>): PreparedRequest[] {
  const requests: PreparedRequest[] = [];
  for (const group of groupByPrincipal(cases)) {
    for (let start = 0; start < group.length; start += size) {
      const chunk = Array.from({ length: size }, (_, i) => group[(start + i) % group.length]!);
      const { company, principal, consistency } = chunk[0]!.body;
      const body = { company, principal, checks: chunk.map(({ body: b }) => ({ action: b.action, resource: b.resource, ...(b.field ? { field: b.field } : {}) })), ...(consistency ? { consistency } : {}) };
      requests.push({ method: 'POST', path: '/v1/check/batch', headers: { 'content-type': json, ...auth }, body: JSON.stringify(body), expect: chunk.map((c) => c.expect) });
    }
  }
  return requests;
}

function authzenRequests(cases: readonly Case[], auth: Record<string, string>): PreparedRequest[] {
  return cases.flatMap((c): PreparedRequest[] => {
    if (!('id' in c.body.principal)) return [];
    const { company, principal, action, resource, field, consistency } = c.body;
    const properties = { ...resource.attributes, ...(field ? { field } : {}) };
    const body = {
      subject: { type: 'user', id: principal.id },
      action: { name: action },
      resource: { type: resource.type, ...(resource.id ? { id: resource.id } : {}), properties },
      ...(consistency?.minVersion ? { context: { minVersion: consistency.minVersion } } : {}),
    };
    return [{ method: 'POST', path: `/authzen/${company}/access/v1/evaluation`, headers: { 'content-type': json, ...auth }, body: JSON.stringify(body), expect: [c.expect] }];
  });
}

export function prepareTarget(options: TargetOptions, cases: readonly Case[]): PreparedTarget {
  const bearer: Record<string, string> = options.checkToken ? { authorization: `Bearer ${options.checkToken}` } : {};
  switch (options.endpoint) {
    case 'check':
      return { label: 'POST /v1/check', requests: checkRequests(cases, bearer), skipped: 0, skippedWhy: null, read: readers.check };
    case 'batch':
      return { label: `POST /v1/check/batch (${options.batchSize} checks each)`, requests: batchRequests(cases, options.batchSize, bearer), skipped: 0, skippedWhy: null, read: readers.batch };
    case 'authzen': {
      const requests = authzenRequests(cases, bearer);
      const skipped = cases.length - requests.length;
      return { label: 'POST /authzen/{company}/access/v1/evaluation', requests, skipped, skippedWhy: skipped ? 'AuthZEN names the subject by id: checks whose principal is a token were left out' : null, read: readers.authzen };
    }
    case 'forward-auth': {
      const finder = createPathFinder(options.catalog, options.routes);
      const gateway: Record<string, string> = options.checkToken ? { 'x-castellan-check-token': options.checkToken } : {};
      let noToken = 0;
      let noRoute = 0;
      const requests: PreparedRequest[] = [];
      for (const c of cases) {
        if (!c.token) {
          noToken++;
          continue;
        }
        const target = finder.requestFor(c.body.company, c.body);
        if (!target) {
          noRoute++;
          continue;
        }
        requests.push({
          method: 'GET',
          path: '/v1/forward-auth',
          headers: { authorization: `Bearer ${c.token}`, 'x-forwarded-method': target.method, 'x-forwarded-uri': target.path, ...gateway },
          expect: [c.expect],
        });
      }
      const why = [noToken && `${noToken} without an end user's token (a gateway sends the user's token)`, noRoute && `${noRoute} that no route of routes.json asks`].filter(Boolean).join(', ');
      return { label: 'GET /v1/forward-auth', requests, skipped: noToken + noRoute, skippedWhy: why || null, read: readers['forward-auth'] };
    }
  }
}
