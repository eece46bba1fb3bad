// The train module's public face: the fit loop, callbacks, schedules and checkpoints.
export { TrainError, type TrainErrorCode } from './errors.js';
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
export { BatchFeed, wholeSplit } from './feed.js';
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
  JOB_SECRET_ENV,
  launchWorkers,
  controlFileFor,
  requestWorkers,
  runWorker,
  ElasticAgent,
  ShardedFeed,
  ReplacementBudget,
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
  type Cursor,
} from './distributed/index.js';
export {
  partitionParameters,
  checkPartition,
  ShardAdam,
  ParameterServer,
  PsClient,
  shutdownServer,
  startShardServer,
  runPsWorker,
  launchParameterServer,
  readPsRole,
  PS_ENV,
  type Partition,
  type Shard,
  type ShardPiece,
  type TensorSlot,
  type AdamMoments,
  type ParameterServerOptions,
  type ServerStats,
  type EpochSums,
  type ServerAddress,
  type Pulled,
  type ShardServerOptions,
  type RunningShardServer,
  type PsWorkerOptions,
  type PsWorkerMetrics,
  type PsResult,
  type PsLaunchOptions,
  type PsLaunchResult,
  type PsRole,
} from './ps/index.js';
