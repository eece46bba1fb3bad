/** Scheduler failures a user can act on; `code` is stable (CLI and HTTP map it in one place each). */
export class SchedulerError extends Error {
  override readonly name = 'SchedulerError';
  constructor(
    readonly code:
      | 'REQUEST_EXCEEDS_CAPACITY'
      | 'REQUEST_ABORTED'
      | 'SCHED_CONFIG_INVALID'
      | 'SCHED_UNKNOWN_QUEUE'
      | 'SCHED_UNKNOWN_PRIORITY_CLASS'
      | 'SCHED_BAD_JOB'
      | 'SCHED_DUPLICATE_JOB'
      | 'SCHED_UNKNOWN_JOB'
      | 'SCHED_INVARIANT',
    message: string,
  ) {
    super(message);
  }
}
