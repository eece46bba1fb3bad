export { type Release as PlannedRelease } from './backfill.js';
export {
  CONFIG_DEFAULTS,
  defaultQueueConfig,
  parseQueueConfig,
  type ClusterQueueConfig,
  type CohortConfig,
  type Quota,
  type QueueConfig,
} from './config.js';
export { SchedulerError } from './errors.js';
export {
  PENDING_CODES,
  type Decision,
  type JobPhase,
  type JobSpec,
  type JobView,
  type Pending,
  type PendingCode,
} from './job.js';
export { LiveScheduler, type Lease, type LiveOptions, type Release, type Snapshot } from './live.js';
export { appliedQueueConfig, jobRows, persistTo } from './persist.js';
export { ResourcePool, type PoolOptions } from './pool.js';
export { PreemptionLedger } from './preemption.js';
export { type Resources, type Resources as ResourceRequest } from './resources.js';
export { Scheduler, type QueueView, type ShareView } from './scheduler.js';
