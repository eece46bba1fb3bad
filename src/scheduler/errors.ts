export type SchedulerErrorCode =
  | 'SCHED_REQUEST_EXCEEDS_CAPACITY'
  | 'SCHED_REQUEST_ABORTED'
  | 'SCHED_CONFIG_INVALID'
  | 'SCHED_CONFIG_IN_USE'
  | 'SCHED_UNKNOWN_QUEUE'
  | 'SCHED_UNKNOWN_PRIORITY_CLASS'
  | 'SCHED_BAD_JOB'
  | 'SCHED_DUPLICATE_JOB'
  | 'SCHED_UNKNOWN_JOB'
  | 'SCHED_INVARIANT';

/** Scheduler failures a user can act on; `code` is stable (CLI and HTTP map it in one place each). */
export class SchedulerError extends Error {
  override readonly name = 'SchedulerError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  constructor(
    readonly code: SchedulerErrorCode,
    message: string,
  ) {
    super(message);
  }
}
