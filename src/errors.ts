/**
 * One class per error code of the API contract. Services throw these; the HTTP
 * layer maps them to a status and body in one place (`errorResponse`).
 */
export abstract class CastellanError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export class InvalidRequestError extends CastellanError {
  readonly code = 'invalid_request';
  readonly status = 400;
}
export class UnauthenticatedError extends CastellanError {
  readonly code = 'unauthenticated';
  readonly status = 401;
}
export class ForbiddenError extends CastellanError {
  readonly code = 'forbidden';
  readonly status = 403;
}
export class NotFoundError extends CastellanError {
  readonly code = 'not_found';
  readonly status = 404;
}
export class ConflictError extends CastellanError {
  readonly code = 'conflict';
  readonly status = 409;
}
export class LastAdminError extends CastellanError {
  readonly code = 'last_admin';
  readonly status = 409;
}
export class RoleImmutableError extends CastellanError {
  readonly code = 'role_immutable';
  readonly status = 409;
}
export class LicenseLimitError extends CastellanError {
  readonly code = 'license_limit';
  readonly status = 409;
}
export class DomainTakenError extends CastellanError {
  readonly code = 'domain_taken';
  readonly status = 409;
}
export class PreconditionFailedError extends CastellanError {
  readonly code = 'precondition_failed';
  readonly status = 412;
}
export class PayloadTooLargeError extends CastellanError {
  readonly code = 'payload_too_large';
  readonly status = 413;
}
/** Says when to come back, in the `Retry-After` header and in `details.retryAfterSeconds`. */
export class TooManyRequestsError extends CastellanError {
  readonly code = 'too_many_requests';
  readonly status = 429;
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, { retryAfterSeconds });
  }
}
export class UnavailableError extends CastellanError {
  readonly code = 'unavailable';
  readonly status = 503;
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export interface ErrorReply {
  status: number;
  body: ErrorBody;
  /** Headers the answer must carry besides the body's own. */
  headers?: Record<string, string>;
  /** False for anything but a CastellanError: a bug, worth a log line with its stack. */
  expected: boolean;
}

/** Maps any thrown value to the contract's error shape; unknown errors become a 500 without internals. */
export function errorResponse(error: unknown): ErrorReply {
  if (error instanceof CastellanError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details) body.error.details = error.details;
    const reply: ErrorReply = { status: error.status, body, expected: true };
    if (error instanceof TooManyRequestsError) reply.headers = { 'retry-after': String(error.retryAfterSeconds) };
    // RFC 9110 (15.5.2): a 401 says which scheme would be accepted; every credential Castellan takes is a bearer token.
    if (error instanceof UnauthenticatedError) reply.headers = { 'www-authenticate': 'Bearer' };
    return reply;
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } }, expected: false };
}
