/** Stable codes for durable-state failures. */
export type DurableErrorCode = 'DURABLE_LOCK_TIMEOUT' | 'DURABLE_NOT_DIRECTORY';

/** The durable module's one error class: `message` says what went wrong and how to fix it. */
export class DurableError extends Error {
  override readonly name = 'DurableError';
  constructor(
    readonly code: DurableErrorCode,
    message: string,
  ) {
    super(message);
  }
}
