/** Stable codes for model lookup and model-package problems. */
export type ModelErrorCode = 'MODEL_UNKNOWN' | 'MODEL_NOT_FOUND' | 'MODEL_BAD_PACKAGE';

/** The models module's one error class: `message` says what went wrong and how to fix it. */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(message);
  }
}
