// Errors become exit codes and messages here, by shape rather than by a list of classes (Hono's
// `'getResponse' in err`, Argo's ArgoError): every module's error class carries a stable `code` and
// `userFacing = true`, and may carry an `exitCode`; test/cli/errors.test.ts holds every exported class to it.

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The shape of an error whose message is written for users (what, why, how to fix). */
export interface UserFacingError extends Error {
  readonly code: string;
  readonly userFacing: true;
  /** The process exit code it means; 1 when absent. */
  readonly exitCode?: number;
}

/** True for an error of the user-facing shape, whichever module threw it. */
export function isUserFacing(err: unknown): err is UserFacingError {
  return (
    err instanceof Error &&
    (err as Partial<UserFacingError>).userFacing === true &&
    typeof (err as Partial<UserFacingError>).code === 'string'
  );
}

/** The one place errors become exit codes: usage problems are 2 (UsageError says so), every other failure 1. */
export function exitCodeFor(err: unknown): number {
  return isUserFacing(err) && typeof err.exitCode === 'number' ? err.exitCode : EXIT_FAILURE;
}

/** The error as a user sees it: its own message for known errors, a pointer to --debug for surprises. */
export function describeError(err: unknown): { code: string; message: string } {
  if (isUserFacing(err)) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message: `${message} (internal error; rerun with --debug for the stack trace)` };
}
