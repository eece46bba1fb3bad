/** Stable codes for everything that can go wrong while finding, decoding and preparing data. */
export type DataErrorCode =
  | 'DATA_NOT_FOUND'
  | 'DATA_BAD_MAGIC'
  | 'DATA_BAD_HEADER'
  | 'DATA_TRUNCATED'
  | 'DATA_TRAILING_BYTES'
  | 'DATA_COUNT_MISMATCH'
  | 'DATA_CORRUPT_RECORD'
  | 'DATA_CHECKSUM'
  | 'DATA_DOWNLOAD_FAILED'
  | 'DATA_BAD_OPTION'
  | 'DATA_CACHE_CORRUPT';

/** The data module's one error class: `message` says what went wrong and how to fix it. */
export class DataError extends Error {
  override readonly name = 'DataError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  constructor(
    readonly code: DataErrorCode,
    message: string,
  ) {
    super(message);
  }
}
