// The parameter-server strategy (book 3.2): sharded parameters with server-side Adam, asynchronous workers.
export {
  partitionParameters,
  checkPartition,
  type Partition,
  type Shard,
  type ShardPiece,
  type TensorSlot,
} from './partition.js';
export { ShardAdam, type AdamMoments } from './adam.js';
export { ParameterServer, type ParameterServerOptions, type ServerStats, type EpochSums } from './server.js';
export { PsClient, shutdownServer, type ServerAddress, type Pulled } from './client.js';
export { startShardServer, type ShardServerOptions, type RunningShardServer } from './shard-server.js';
export { runPsWorker, type PsWorkerOptions, type PsWorkerMetrics, type PsResult } from './worker.js';
export { launchParameterServer, type PsLaunchOptions, type PsLaunchResult } from './launcher.js';
export { readPsRole, PS_ENV, type PsRole } from './env.js';
export { encodeFrame, FrameReader, Kind, type Frame } from './wire.js';
