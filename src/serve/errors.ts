/** Stable codes for model-server problems; each maps to one HTTP status in `httpStatus`. */
export type ServeErrorCode =
  | 'SERVE_BAD_REQUEST'
  | 'SERVE_NOT_FOUND'
  | 'SERVE_METHOD_NOT_ALLOWED'
  | 'SERVE_TOO_LARGE'
  | 'SERVE_NOT_READY'
  | 'SERVE_OVERLOADED'
  | 'SERVE_CLIENT_GONE'
  | 'SERVE_INTERNAL'
  | 'SERVE_LISTEN'
  | 'SERVE_UNAUTHORIZED'
  | 'SERVE_RATE_LIMITED'
  | 'SERVE_BAD_GATEWAY'
  | 'SERVE_GATEWAY_TIMEOUT'
  | 'SERVE_GATEWAY_CONFIG';

/** The serve module's one error class: `message` is what an HTTP client or CLI user reads. */
export class ServeError extends Error {
  override readonly name = 'ServeError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  /** Sent as `Retry-After` (seconds) with the error's answer: the server is busy, not broken. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly code: ServeErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

const STATUS: Record<ServeErrorCode, number> = {
  SERVE_BAD_REQUEST: 400,
  SERVE_NOT_FOUND: 404,
  SERVE_METHOD_NOT_ALLOWED: 405,
  SERVE_TOO_LARGE: 413,
  SERVE_NOT_READY: 503,
  SERVE_OVERLOADED: 503,
  // nginx's "client closed request": only ever logged and counted, the client is not there to read it.
  SERVE_CLIENT_GONE: 499,
  SERVE_INTERNAL: 500,
  SERVE_LISTEN: 500,
  SERVE_UNAUTHORIZED: 401,
  SERVE_RATE_LIMITED: 429,
  SERVE_BAD_GATEWAY: 502,
  SERVE_GATEWAY_TIMEOUT: 504,
  SERVE_GATEWAY_CONFIG: 500,
};

/** The one place error codes become HTTP status codes; anything that is not a ServeError is a 500. */
export function httpStatus(err: unknown): number {
  return err instanceof ServeError ? STATUS[err.code] : 500;
}

/** A 503 with Retry-After: too much work queued already, or a request waited past its deadline. */
export function overloaded(message: string, retryAfterSeconds = 1): ServeError {
  return new ServeError('SERVE_OVERLOADED', message, { retryAfterSeconds });
}

/** Shorthand for a 400 with a message that says what to fix. */
export function badRequest(message: string): ServeError {
  return new ServeError('SERVE_BAD_REQUEST', message);
}
