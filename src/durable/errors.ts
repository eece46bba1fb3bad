/** Stable codes for durable-state failures. */
export type DurableErrorCode = 'DURABLE_LOCK_TIMEOUT' | 'DURABLE_NOT_DIRECTORY';

/** The durable module's one error class: `message` says what went wrong and how to fix it. */
export class DurableError extends Error {
  override readonly name = 'DurableError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  constructor(
    readonly code: DurableErrorCode,
    message: string,
  ) {
    super(message);
  }
}
