// The train module's public face: the fit loop, callbacks, schedules and checkpoints, and the entry points
// and result types of the distributed strategies (allreduce, parameter server).
export { TrainError, type TrainErrorCode } from './errors.js';
export type { LauncherEvent, PsEvent, TrainEvent, WorkerEvent } from './events.js';
export { fit, type FitOptions, type FitResult } from './fit.js';
export { packageMetrics, type TrainingJob } from './job.js';
export { earlyStopping, printLr, type Callback, type StepLog, type EpochLog } from './callbacks.js';
export { bookDecay, constantLr, SCHEDULES, type LrSchedule, type ScheduleName } from './schedule.js';
export {
  saveCheckpoint,
  latestCheckpoint,
  restoreCheckpoint,
  resumeLatest,
  type ResumePoint,
  type SkippedCheckpoint,
  type TrainerState,
} from './checkpoint.js';
export { wholeSplit } from './feed.js';
// Distributed strategies: their entry points, options and results. Their parts (the elastic agent, the
// sharded feed, Adam on a shard, the wire codec, the client) stay inside; tests reach them through
// src/train/distributed/index.ts and src/train/ps/index.ts.
export {
  PREEMPTED_EXIT_CODE,
  DEFAULT_PREEMPT_GRACE_MS,
  markPreempted,
  readPreempted,
  clearPreempted,
  type PreemptionRecord,
} from './preemption.js';
export {
  readClusterEnv,
  launchWorkers,
  controlFileFor,
  requestWorkers,
  withdrawRequest,
  runWorker,
  type ClusterEnv,
  type LaunchOptions,
  type LaunchResult,
  type LaunchPreempted,
  type WorkerPreempted,
  type PreemptionPoint,
  type WorkerOptions,
  type WorkerMetrics,
  type DistributedResult,
  type MembershipChange,
} from './distributed/index.js';
export {
  partitionParameters,
  startShardServer,
  runPsWorker,
  launchParameterServer,
  readPsRole,
  type Partition,
  type TensorSlot,
  type ServerStats,
  type ShardServerOptions,
  type RunningShardServer,
  type PsWorkerOptions,
  type PsWorkerMetrics,
  type PsResult,
  type PsLaunchOptions,
  type PsLaunchResult,
  type PsRole,
} from './ps/index.js';
