/** Stable codes for model-repository and model-selection problems. */
export type RegistryErrorCode =
  | 'REGISTRY_BAD_NAME'
  | 'REGISTRY_NOT_FOUND'
  | 'REGISTRY_BAD_CANDIDATE'
  | 'REGISTRY_NONE_PASSED'
  | 'REGISTRY_CONFLICT';

/** The registry module's one error class: `message` says what went wrong and how to fix it. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
