// Distributed training: the environment contract, the elastic agent and launcher, and the worker.
export { readClusterEnv, JOB_SECRET_ENV, type ClusterEnv } from './env.js';
export { ElasticAgent, type AgentOptions } from './agent.js';
export { launchWorkers, type LaunchOptions, type LaunchResult, type LaunchPreempted } from './launcher.js';
export { controlFileFor, requestWorkers, withdrawRequest } from './control.js';
export { ReplacementBudget, type WorkerExit, type ReplacementDecision } from './replacement.js';
export { runWorker } from './worker.js';
export type { WorkerOptions, WorkerMetrics, DistributedResult, WorkerPreempted } from './options.js';
export { ShardedFeed, type Cursor } from './sharded-feed.js';
export type { MembershipChange, Generation, PreemptionPoint } from './protocol.js';
