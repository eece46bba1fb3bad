/** Stable codes for engine failures; callers branch on `code`, users read `message`. */
export type EngineErrorCode =
  | 'ENGINE_NOT_BUILT'
  | 'ENGINE_BAD_SPEC'
  | 'ENGINE_BAD_INPUT'
  | 'ENGINE_DISPOSED'
  | 'ENGINE_NATIVE'
  /** The rendezvous store could not be reached or answered with an error / timeout. */
  | 'COMM_STORE'
  /** Forming a process group failed (a member missing, a timeout). */
  | 'COMM_RENDEZVOUS'
  /** A collective failed: a peer died (connection reset) or stalled past the timeout. */
  | 'COMM_COLLECTIVE'
  | 'COMM_CLOSED';

/** Error raised by the compute engine, with a stable `code`. */
export class EngineError extends Error {
  readonly code: EngineErrorCode;

  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineError';
    this.code = code;
  }
}

const NATIVE_PREFIX = /^((?:ENGINE|COMM)_[A-Z_]+): ([\s\S]*)$/;
const KNOWN_CODES = new Set<string>([
  'ENGINE_BAD_INPUT',
  'ENGINE_DISPOSED',
  'ENGINE_NATIVE',
  'COMM_STORE',
  'COMM_RENDEZVOUS',
  'COMM_COLLECTIVE',
  'COMM_CLOSED',
]);

/** Maps an error thrown by the addon ("ENGINE_X: message") to an EngineError. */
export function fromNative(error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const match = NATIVE_PREFIX.exec(message);
  if (match && KNOWN_CODES.has(match[1] ?? '')) {
    return new EngineError(match[1] as EngineErrorCode, match[2] ?? '', { cause: error });
  }
  return new EngineError('ENGINE_NATIVE', message, { cause: error });
}
