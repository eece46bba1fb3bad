import { hostname } from 'node:os';
import { Store, StoreServer } from '../../engine/index.js';
import { ElasticAgent } from './agent.js';
import { isLoopback, resolveWorkerOptions, type DistributedResult, type WorkerOptions } from './options.js';
import { K } from './protocol.js';
import { Trainer } from './step-loop.js';

export type { DistributedResult, WorkerMetrics, WorkerOptions, WorkerPreempted } from './options.js';
import type { WorkerPreempted } from './options.js';

/**
 * One data-parallel worker (book 3.3, 9.2.2). It registers with the job's agent, follows its generations
 * (re-forming the Gloo group when membership changes), takes its DATA shard of every global batch, averages
 * gradients with one bucketed allreduce, and steps like every other replica (step-loop.ts). The chief (rank 0)
 * evaluates, checkpoints and writes the model. Static jobs (Kubeflow's PyTorchJob/TFJob env, no DISTML_ELASTIC)
 * run the agent inside rank 0 with a fixed membership.
 */
export async function runWorker(
  options: WorkerOptions,
): Promise<DistributedResult | WorkerPreempted | undefined> {
  const o = resolveWorkerOptions(options);
  const c = o.cluster;
  const staticChief = !c.elastic && c.rank === 0;
  const id = c.elastic ? `${hostname()}-${process.pid}` : `rank-${c.rank}`;
  // A static job's chief hosts the store: on loopback for a local master, else on every interface (a pod
  // is reached through its service name); either way only holders of the job's secret are served.
  const storeServer = staticChief
    ? await StoreServer.start({
        host: isLoopback(c.masterAddr) ? '127.0.0.1' : '0.0.0.0',
        port: c.masterPort,
        secret: c.secret,
      })
    : undefined;
  const connect = () =>
    Store.connect({ host: c.masterAddr, port: c.masterPort, secret: c.secret, timeoutMs: o.commTimeoutMs });
  // Separate connections: a blocking wait on one must not hold up heartbeats on another.
  const control = await connect();
  const beat = await connect();
  let agent: ElasticAgent | undefined;
  if (staticChief) {
    const n = c.worldSize ?? 1;
    agent = new ElasticAgent({
      store: await connect(),
      initialWorkers: n,
      minWorkers: n,
      maxWorkers: n,
      heartbeatTimeoutMs: o.heartbeatTimeoutMs,
    });
    // Not awaited: the chief's agent ends when the chief publishes the result; a failure of its own (an
    // abort for too few workers) reaches every worker through the store's abort key instead.
    agent.run().catch(() => undefined);
  }
  await control.get(K.agent, o.commTimeoutMs);
  const joinIndex = await control.add(K.joins, 1);
  await control.set(K.join(joinIndex), id);
  let beats = 0;
  // Best effort: a missed beat is what the agent's timeout is for; a store that is gone fails the step loop.
  const heartbeat = setInterval(() => void beat.add(K.heartbeat(id), ++beats).catch(() => undefined), 1000);
  try {
    return await new Trainer(o, id, control).run(agent);
  } finally {
    clearInterval(heartbeat);
    // Best effort: saying goodbye speeds the agent up; when the store is gone there is no one to tell.
    await control.set(K.left(id), '1').catch(() => undefined);
    agent?.stop();
    await storeServer?.close();
  }
}
