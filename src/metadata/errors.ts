/** Metadata store failures: a database that cannot be opened, or a record that is not there. */
export class MetadataError extends Error {
  override readonly name = 'MetadataError';
  constructor(
    readonly code: 'METADATA_OPEN_FAILED' | 'METADATA_SCHEMA_TOO_NEW' | 'RUN_NOT_FOUND',
    message: string,
  ) {
    super(message);
  }
}
