/** Codes of the control plane's own failures; an error passed on from a lower module keeps that module's code. */
export type ServerErrorCode =
  | 'SERVER_RUNNING'
  | 'SERVER_NOT_RUNNING'
  | 'SERVER_START_FAILED'
  | 'SERVER_GONE'
  | 'SERVER_UNAUTHORIZED'
  | 'SERVER_NOT_FOUND'
  | 'SERVER_METHOD'
  | 'SERVER_BAD_REQUEST'
  | 'SERVER_TOO_LARGE'
  | 'SERVER_RUN_ACTIVE'
  | 'SERVER_QUEUE_IN_USE'
  | 'SERVER_SHUTTING_DOWN';

/** A failure of `distml server` or of a request to it, written for users (what, why, how to fix). */
export class ServerError extends Error {
  override readonly name = 'ServerError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  constructor(
    /** A ServerErrorCode, or the code of the lower module's error the server answered with. */
    readonly code: ServerErrorCode | (string & {}),
    message: string,
    /** The HTTP status it is answered with. */
    readonly status = 400,
  ) {
    super(message);
  }
}
