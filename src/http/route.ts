import type { IncomingHttpHeaders } from 'node:http';
import type { Request, Response, Router } from 'express';
import type { z } from 'zod';
import type { TokenClaims } from '../auth/auth.js';
import { InvalidRequestError, UnauthenticatedError } from '../errors.js';
import { createOperatorGuard, OPERATOR_HEADER } from './operator-token.js';
import { checkTokenRefused } from '../check/check-token.js';
import type { AskedAbout } from '../check/self-check.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  headers: IncomingHttpHeaders;
}

export interface RouteReply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * One endpoint as data: the router is built from it and so is the OpenAPI document,
 * so the zod schemas that validate a request are the ones that describe it.
 */
interface RouteBase<P, Q, B> {
  method: HttpMethod;
  /** OpenAPI style, `{name}` for path parameters. */
  path: string;
  summary: string;
  /** Longer prose for the OpenAPI document (CommonMark): rules a client must know beyond the summary. */
  description?: string;
  tag: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  success: { status: number; description: string; schema?: z.ZodType };
  /** Another success status the handler may answer with (e.g. 201 on create, 200 on an idempotent repeat); `empty`: without a body (304). */
  alsoSucceeds?: { status: number; description: string; empty?: boolean };
  /** Contract error codes this endpoint answers with, besides invalid_request. */
  errors: readonly string[];
  /** Headers beyond the usual ones, by name, with what they mean: documented in the OpenAPI document. */
  headers?: { request?: Record<string, string>; response?: Record<string, string> };
}

/** Needs a user's bearer token (admin API); the handler gets the verified caller. */
export interface UserRoute<P, Q, B> extends RouteBase<P, Q, B> {
  security: 'user';
  /** `beside`: the operator credential may come with the bearer token, for what only the platform decides; the handler learns whether it did. */
  operator?: 'beside';
  handle(input: RouteInput<P, Q, B>, caller: TokenClaims, operator: boolean): Promise<RouteReply>;
}

/** Who called a route the platform operator may call on its own. */
export type AdminCaller = { user: TokenClaims; operator: boolean } | { user: null; operator: true };

/** A user's bearer token, the operator credential, or both: the platform acts on a company without being one of its users. */
export interface OperatorRoute<P, Q, B> extends RouteBase<P, Q, B> {
  security: 'user-or-operator';
  handle(input: RouteInput<P, Q, B>, caller: AdminCaller): Promise<RouteReply>;
}

/** Public, or guarded by the check token before it reaches the handler. */
export interface OpenRoute<P, Q, B> extends RouteBase<P, Q, B> {
  security: 'none' | 'service';
  /**
   * A `service` route a user may also ask about themself with their own token (self-check.ts):
   * whom the raw request asks about. Without it only the check token opens the route.
   */
  askedAbout?(raw: { params: Record<string, unknown>; body: unknown }): AskedAbout;
  handle(input: RouteInput<P, Q, B>): Promise<RouteReply>;
}

export type Route<P = any, Q = any, B = any> = UserRoute<P, Q, B> | OperatorRoute<P, Q, B> | OpenRoute<P, Q, B>;

/** Identity functions that let TypeScript infer P, Q and B from the schemas. */
export const userRoute = <P = Record<string, never>, Q = Record<string, never>, B = undefined>(route: Omit<UserRoute<P, Q, B>, 'security'>): Route =>
  ({ ...route, security: 'user' }) as Route;
export const operatorRoute = <P = Record<string, never>, Q = Record<string, never>, B = undefined>(route: Omit<OperatorRoute<P, Q, B>, 'security'>): Route =>
  ({ ...route, security: 'user-or-operator' }) as Route;
export const openRoute = <P = Record<string, never>, Q = Record<string, never>, B = undefined>(route: OpenRoute<P, Q, B>): Route => route as Route;

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0);
}

/** Keys come from the client, up to the body's 1 MiB: named in full, one would come back several times over in the error. */
const MAX_ECHOED_KEY = 64;
const echoed = (key: PropertyKey): string => {
  const text = String(key);
  return text.length > MAX_ECHOED_KEY ? `${text.slice(0, MAX_ECHOED_KEY)}…` : text;
};
const pathOf = (path: readonly PropertyKey[]): string => path.map(echoed).join('.');

export function parsePart<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) {
    // An endpoint that takes no input refuses input rather than silently ignoring it.
    if (!isEmpty(value)) throw new InvalidRequestError(`${where} takes no fields`, { path: where });
    return undefined as T;
  }
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 10).map((issue) => {
    if (issue.code !== 'unrecognized_keys') return { path: issue.path.length ? pathOf(issue.path) : `(${where})`, message: issue.message };
    // An unknown field is named in the path, like any other offending field; the others are counted, not listed.
    const more = issue.keys.length > 1 ? ` and ${issue.keys.length - 1} more` : '';
    return { path: pathOf([...issue.path, issue.keys[0]!]), message: `unknown field "${echoed(issue.keys[0]!)}"${more}` };
  });
  const first = issues[0]!;
  throw new InvalidRequestError(`${first.path}: ${first.message}`, { path: first.path, issues });
}

/** Express path syntax from the OpenAPI one. */
export const expressPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

export interface MountOptions {
  /** Required to mount `user` routes; without it they refuse every caller. */
  authenticate?(req: Request): Promise<TokenClaims>;
  /** Required to mount `service` routes; without it they refuse every caller. */
  isServiceAuthorised?(header: string | undefined): boolean;
  /** For `service` routes with `askedAbout`, when isServiceAuthorised refused: a user's own token asking about that user. */
  authoriseSelf?(header: string | undefined, asked: AskedAbout): Promise<boolean>;
  /** Whether a request carries the operator credential (throws when it carries a wrong one); without it, any operator token is refused. */
  isOperator?(header: string | string[] | undefined): boolean;
  /** Called when a write finishes, for metrics. */
  onWrite?(route: Route, status: number): void;
}

const acceptsOperator = (route: Route) => route.security === 'user-or-operator' || (route.security === 'user' && route.operator === 'beside');

/** The operator alone needs no user; with a bearer token beside it, that user is authenticated (and authorised) as well. */
const needsUser = (route: Route, operator: boolean, req: Request) =>
  route.security === 'user' || (route.security === 'user-or-operator' && !(operator && req.headers.authorization === undefined));

export function mountRoutes(router: Router, routes: readonly Route[], options: MountOptions): void {
  const isOperator = options.isOperator ?? createOperatorGuard(undefined);
  for (const route of routes) {
    router[route.method](expressPath(route.path), async (req: Request, res: Response) => {
      if (route.method !== 'get' && options.onWrite) res.once('finish', () => options.onWrite!(route, res.statusCode));
      // Authenticate before looking at the input: an anonymous caller learns nothing from validation errors.
      const operator = acceptsOperator(route) && isOperator(req.headers[OPERATOR_HEADER]);
      const userNeeded = needsUser(route, operator, req);
      if (userNeeded && !options.authenticate) throw new UnauthenticatedError('this endpoint takes no user tokens here');
      const caller = userNeeded ? await options.authenticate!(req) : null;
      if (route.security === 'service' && options.isServiceAuthorised?.(req.headers.authorization) !== true) {
        const self = route.askedAbout && options.authoriseSelf ? await options.authoriseSelf(req.headers.authorization, route.askedAbout({ params: req.params, body: req.body })) : false;
        if (!self) throw checkTokenRefused();
      }
      const input: RouteInput<unknown, unknown, unknown> = {
        params: parsePart(route.params, req.params, 'path'),
        query: parsePart(route.query, req.query, 'query'),
        body: parsePart(route.body, req.body, 'body'),
        headers: req.headers,
      };
      const reply =
        route.security === 'user'
          ? await route.handle(input, caller!, operator)
          : route.security === 'user-or-operator'
            ? await route.handle(input, caller ? { user: caller, operator } : { user: null, operator: true })
            : await route.handle(input);
      if (reply.headers) res.set(reply.headers);
      // A 304 has no body, not even JSON's null.
      if (reply.status === 304) res.status(304).end();
      else res.status(reply.status ?? route.success.status).json(reply.body);
    });
  }
}
