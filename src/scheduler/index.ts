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
export { fifo, type QueuePolicy, type ResourceRequest, type Waiter } from './policy.js';
export { ResourcePool, type PoolOptions, type Release } from './pool.js';
export { PreemptionLedger } from './preemption.js';
export { type Resources } from './resources.js';
export { Scheduler, type QueueView, type ShareView } from './scheduler.js';
