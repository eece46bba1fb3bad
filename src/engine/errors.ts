/** Stable codes for engine failures; callers branch on `code`, users read `message`. */
export type EngineErrorCode =
  | 'ENGINE_NOT_BUILT'
  | 'ENGINE_BAD_SPEC'
  | 'ENGINE_BAD_INPUT'
  | 'ENGINE_DISPOSED'
  | 'ENGINE_NATIVE'
  /** The rendezvous store could not be reached or answered with an error / timeout. */
  | 'ENGINE_COMM_STORE'
  /** Forming a process group failed (a member missing, a timeout). */
  | 'ENGINE_COMM_RENDEZVOUS'
  /** A collective failed: a peer died (connection reset) or stalled past the timeout. */
  | 'ENGINE_COMM_COLLECTIVE'
  | 'ENGINE_COMM_CLOSED';

/** Error raised by the compute engine, with a stable `code`. */
export class EngineError extends Error {
  readonly code: EngineErrorCode;
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;

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
  'ENGINE_COMM_STORE',
  'ENGINE_COMM_RENDEZVOUS',
  'ENGINE_COMM_COLLECTIVE',
  'ENGINE_COMM_CLOSED',
]);

/** Maps an error thrown by the addon ("ENGINE_X: message") to an EngineError. */
export function fromNative(error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const match = NATIVE_PREFIX.exec(message);
  // The addon writes collective failures as "COMM_X:"; in TypeScript every engine code starts ENGINE_.
  const code = match?.[1]?.startsWith('COMM_') ? `ENGINE_${match[1]}` : match?.[1];
  if (match && code && KNOWN_CODES.has(code)) {
    return new EngineError(code as EngineErrorCode, match[2] ?? '', { cause: error });
  }
  return new EngineError('ENGINE_NATIVE', message, { cause: error });
}
