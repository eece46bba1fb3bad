/** Metadata store failures: a database that cannot be opened, or a record that is not there. */
export class MetadataError extends Error {
  override readonly name = 'MetadataError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  constructor(
    readonly code: 'METADATA_OPEN_FAILED' | 'METADATA_SCHEMA_TOO_NEW' | 'METADATA_RUN_NOT_FOUND',
    message: string,
  ) {
    super(message);
  }
}
