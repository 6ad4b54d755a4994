/** Every failure the client reports: none of them is a decision. */
export class CastellanError extends Error {
  override name = 'CastellanError';
}

/**
 * Why no decision could be had: the answer did not come in `timeoutMs`, nobody answered,
 * Castellan answered 5xx (`unavailable`, a minVersion not reached yet included), or what came
 * back is not Castellan's answer.
 */
export type UnavailableKind = 'timeout' | 'unreachable' | 'server_error' | 'malformed_answer';

/** Castellan could not decide. The caller must not act as if allowed; `can(..., { onError: 'deny' })` turns it into a deny. */
export class CastellanUnavailableError extends CastellanError {
  override name = 'CastellanUnavailableError';
  constructor(
    readonly kind: UnavailableKind,
    message: string,
    readonly status?: number,
    readonly code?: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** A caller of its own: coalesced callers never share an error object. */
  copy(): CastellanUnavailableError {
    return new CastellanUnavailableError(this.kind, this.message, this.status, this.code, this.details, { cause: this.cause });
  }
}

/** Castellan refused the request (4xx in the contract's error shape): a bad request or a refused credential, not an outage. */
export class CastellanRequestError extends CastellanError {
  override name = 'CastellanRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  copy(): CastellanRequestError {
    return new CastellanRequestError(this.status, this.code, this.message, this.details);
  }

  /** Whether Castellan refused the calling service's CHECK_TOKEN, rather than the principal's token. */
  get refusedServiceCredential(): boolean {
    return this.status === 401 && this.details?.credential === 'check_token';
  }
}

export const isCastellanError = (error: unknown): error is CastellanUnavailableError | CastellanRequestError =>
  error instanceof CastellanUnavailableError || error instanceof CastellanRequestError;

/** The same failure for another caller. */
export function copyError(error: unknown): unknown {
  return isCastellanError(error) ? error.copy() : error;
}

export const malformed = (what: string) => new CastellanUnavailableError('malformed_answer', `Castellan's answer is malformed: ${what}`);
