import { createModel, type ModelSpec } from '../../engine/index.js';
import type { LrSchedule } from '../schedule.js';
import { checkPartition, type Partition } from './partition.js';
import { ParameterServer, type ServerStats } from './server.js';

export interface ShardServerOptions {
  spec: ModelSpec;
  /** The workers' seed: every process builds the same initial model from it. */
  seed: number;
  partition: Pick<Partition, 'shards'>;
  index: number;
  workers: number;
  host: string;
  /** 0 = any free port. */
  port?: number;
  baseLr: number;
  schedule: LrSchedule;
  staleness?: number;
  /** The job's secret (every connection must present it). */
  secret: string;
}

export interface RunningShardServer {
  server: ParameterServer;
  port: number;
  /** Settles with the final statistics once a `shutdown` frame arrived (or `stop()` was called). */
  stopped: Promise<ServerStats>;
  stop(): Promise<void>;
}

/** Starts parameter server `index`: its shard of the seeded initial model, Adam, and a listening socket. */
export async function startShardServer(o: ShardServerOptions): Promise<RunningShardServer> {
  const model = createModel(o.spec, { seed: o.seed });
  let initial: Float32Array;
  try {
    checkPartition(o.partition, model.trainableParamCount);
    const shard = o.partition.shards[o.index];
    if (!shard) throw new RangeError(`no shard ${o.index} in a partition of ${o.partition.shards.length}`);
    initial = (await model.getParameters()).slice(shard.start, shard.end);
  } finally {
    await model.dispose();
  }
  const shard = o.partition.shards[o.index] as Partition['shards'][number];
  const server = new ParameterServer({
    shard,
    initial,
    workers: o.workers,
    baseLr: o.baseLr,
    schedule: o.schedule,
    staleness: o.staleness,
    secret: o.secret,
  });
  const port = await server.listen(o.host, o.port ?? 0);
  let finish: (s: ServerStats) => void = () => undefined;
  const stopped = new Promise<ServerStats>((resolve) => (finish = resolve));
  const stop = async () => {
    const stats = server.snapshot();
    await server.close();
    finish(stats);
  };
  server.onShutdown = () => void stop();
  return { server, port, stopped, stop };
}
