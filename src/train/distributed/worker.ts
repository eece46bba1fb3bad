import { hostname } from 'node:os';
import type { Dataset, ScaledExample } from '../../data/index.js';
import {
  createModel,
  EngineError,
  ProcessGroup,
  Store,
  StoreServer,
  type Model,
  type NamedTensor,
} from '../../engine/index.js';
import { savePackage } from '../../models/index.js';
import type { EpochLog, StepLog } from '../callbacks.js';
import { resumeLatest, saveCheckpoint, type TrainerState } from '../checkpoint.js';
import { TrainError } from '../errors.js';
import { wholeSplit } from '../feed.js';
import { packageMetrics, type TrainingJob } from '../job.js';
import { ElasticAgent } from './agent.js';
import type { ClusterEnv } from './env.js';
import { K, type Generation, type MembershipChange } from './protocol.js';
import { ShardedFeed } from './sharded-feed.js';
import type { WorkerEvent } from '../events.js';

export interface WorkerOptions extends TrainingJob {
  cluster: ClusterEnv;
  test: Dataset<ScaledExample>;
  /** Chief writes checkpoints here, atomically, at epoch ends and every `checkpointEvery` steps. */
  checkpointDir: string;
  checkpointEvery?: number;
  /** Start from the newest checkpoint when this worker is the first of a fresh group. */
  resume: boolean;
  /** Where the chief writes the final model package. */
  outDir: string;
  /** Bounds rendezvous and every collective. Default 30 s. */
  commTimeoutMs?: number;
  heartbeatTimeoutMs?: number;
  /** The network interface Gloo uses when the master is not on loopback (the CLI's GLOO_SOCKET_IFNAME). */
  socketIfname?: string;
  lineage: Record<string, unknown>;
  onStep?: (log: StepLog) => void;
  onEpoch?: (log: EpochLog) => void;
  onEvent?: (event: WorkerEvent) => void;
}

/** What each worker measured (reported to the chief through the store). */
export interface WorkerMetrics {
  id: string;
  steps: number;
  computeSeconds: number;
  commSeconds: number;
  bytesSent: number;
  abandonedSteps: number;
  generations: number;
}

/** The chief's final report (also what `distml train --workers N --json` prints). */
export interface DistributedResult {
  epochs: number;
  steps: number;
  history: EpochLog[];
  trainSeconds: number;
  imagesPerSecond: number;
  testAccuracy?: number;
  testLoss?: number;
  worldSizeAtEnd: number;
  replicaChecks: { epoch: number; identical: boolean }[];
  membershipChanges: MembershipChange[];
  workers: WorkerMetrics[];
  resumedFrom?: string;
  path: string;
}

class Abandon extends Error {}

const isLoopback = (h: string) => h === 'localhost' || h.startsWith('127.') || h === '::1';

/**
 * One data-parallel worker (book 3.3, 9.2.2). It registers with the job's agent, follows its generations
 * (re-forming the Gloo group when membership changes), takes its DATA shard of every global batch, averages
 * gradients with one bucketed allreduce, and steps like every other replica. The chief (rank 0) evaluates,
 * checkpoints and writes the model. Static jobs (Kubeflow's PyTorchJob/TFJob env, no DISTML_ELASTIC) run the
 * agent inside rank 0 with a fixed membership.
 */
export async function runWorker(o: WorkerOptions): Promise<DistributedResult | undefined> {
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
    Store.connect({
      host: c.masterAddr,
      port: c.masterPort,
      secret: c.secret,
      timeoutMs: o.commTimeoutMs ?? 30_000,
    });
  // Separate connections: a blocking wait on one must not hold up heartbeats on another.
  const control = await connect();
  const beat = await connect();
  let agent: ElasticAgent | undefined;
  let agentRun: Promise<string> | undefined;
  if (staticChief) {
    const n = c.worldSize ?? 1;
    agent = new ElasticAgent({
      store: await connect(),
      initialWorkers: n,
      minWorkers: n,
      maxWorkers: n,
      heartbeatTimeoutMs: o.heartbeatTimeoutMs,
    });
    agentRun = agent.run();
    agentRun.catch(() => undefined);
  }
  await control.get(K.agent, o.commTimeoutMs ?? 30_000);
  const joinIndex = await control.add(K.joins, 1);
  await control.set(K.join(joinIndex), id);
  let beats = 0;
  const heartbeat = setInterval(() => void beat.add(K.heartbeat(id), ++beats).catch(() => undefined), 1000);
  try {
    return await new Trainer(o, id, control).run(agent);
  } finally {
    clearInterval(heartbeat);
    await control.set(K.left(id), '1').catch(() => undefined);
    agent?.stop();
    await storeServer?.close();
  }
}

class Trainer {
  private model!: Model;
  private feed!: ShardedFeed;
  private state: TrainerState;
  private fresh = true;
  private lr = -1;
  private readonly metrics: WorkerMetrics;
  private readonly replicaChecks: DistributedResult['replicaChecks'] = [];
  private trainSeconds = 0;
  private images = 0;
  private resumedFrom: string | undefined;
  private lastCheckpoint: string | undefined;
  private worldSize = 1;
  private epochStart: number | undefined;

  constructor(
    private readonly o: WorkerOptions,
    private readonly id: string,
    private readonly store: Store,
  ) {
    this.state = {
      epoch: 0,
      stepInEpoch: 0,
      globalStep: 0,
      seed: o.seed,
      history: [],
      epochSums: { loss: 0, correct: 0, count: 0 },
      cursor: { pass: 0, offset: 0 },
    };
    this.metrics = {
      id,
      steps: 0,
      computeSeconds: 0,
      commSeconds: 0,
      bytesSent: 0,
      abandonedSteps: 0,
      generations: 0,
    };
  }

  async run(agent: ElasticAgent | undefined): Promise<DistributedResult | undefined> {
    const examples: ScaledExample[] = [];
    for await (const chunk of this.o.train.chunks()) examples.push(...chunk);
    this.feed = new ShardedFeed(examples, this.o.seed);
    this.model = createModel(this.o.spec, { seed: this.o.seed });
    await this.model.setOptimizer({ type: 'adam', learningRate: this.o.baseLr });
    const test = await wholeSplit(this.o.test);
    let lastGen = -1;
    let failedGenerations = 0;
    try {
      for (;;) {
        const gen = await this.nextGeneration(lastGen);
        if (!gen) break; // training finished while waiting
        lastGen = gen.generation;
        const rank = gen.members.indexOf(this.id);
        let group: ProcessGroup | undefined;
        try {
          group = await this.join(gen, rank);
          await this.syncFrom0(group, gen.generation);
          const finished = await this.train(group, gen.generation, test);
          if (finished) {
            const result = rank === 0 ? await this.finish(agent) : undefined;
            await this.store.set(K.report(this.id), JSON.stringify(this.metrics));
            if (rank !== 0) await this.store.get(K.done, 10 * 60_000);
            return result;
          }
          failedGenerations = 0;
        } catch (err) {
          // A peer lost while forming or syncing the group fails this generation like a failed step does:
          // report it and follow the agent to the next one — unless it keeps happening.
          const comm = err instanceof EngineError && err.code.startsWith('ENGINE_COMM_');
          if (!(err instanceof Abandon) && !comm) throw err;
          if (comm) {
            await this.store.add(K.faults(gen.generation), 1).catch(() => undefined);
            this.o.onEvent?.({
              event: 'generation-failed',
              generation: gen.generation,
              reason: (err as Error).message,
            });
          }
          if (++failedGenerations > 5) throw err;
        } finally {
          await group?.close().catch(() => undefined);
        }
      }
      return undefined;
    } finally {
      await this.model.dispose();
    }
  }

  /** Waits for a generation newer than `after` that includes this worker. */
  private async nextGeneration(after: number): Promise<Generation | undefined> {
    for (let notMine = 0; ;) {
      if (await this.store.check([K.done])) return undefined;
      const abort = await this.store.tryGet(K.abort);
      if (abort !== undefined) throw new TrainError('TRAIN_ABORTED', `the job was aborted: ${abort}`);
      const g = Number((await this.store.tryGet(K.generation)) ?? -1);
      if (g > after) {
        const gen = JSON.parse(await this.store.get(K.members(g))) as Generation;
        if (gen.members.includes(this.id)) return gen;
        // Not admitted yet (joined late) or dropped (declared dead after a freeze): wait and see.
        if (!this.fresh && ++notMine > 1) {
          throw new TrainError(
            'TRAIN_MEMBER_REMOVED',
            `worker ${this.id} was removed from the group (missed heartbeats?)`,
          );
        }
        after = g;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async join(gen: Generation, rank: number): Promise<ProcessGroup> {
    this.worldSize = gen.members.length;
    this.metrics.generations++;
    this.o.onEvent?.({
      event: 'generation',
      generation: gen.generation,
      rank,
      worldSize: this.worldSize,
      reason: gen.reason,
    });
    const c = this.o.cluster;
    return ProcessGroup.create(this.store, {
      prefix: `pg/${gen.generation}`,
      rank,
      size: this.worldSize,
      timeoutMs: this.o.commTimeoutMs ?? 30_000,
      iface: isLoopback(c.masterAddr) ? 'lo' : this.o.socketIfname,
    });
  }

  /**
   * Makes every replica identical to rank 0: its trainer state through the store, its weights, buffers and
   * optimizer moments by one broadcast. Rank 0 of a group of fresh workers (a new job, or a restart after
   * every worker died) first restores the newest checkpoint when asked to resume.
   */
  private async syncFrom0(group: ProcessGroup, g: number): Promise<void> {
    if (group.rank === 0) {
      if (this.fresh && this.o.resume) {
        const ckpt = await resumeLatest(this.o.checkpointDir, this.model, {
          spec: this.o.spec,
          onSkip: (s) => this.o.onEvent?.({ event: 'checkpoint-skipped', ...s }),
        });
        if (ckpt) {
          this.state = ckpt.state;
          this.state.cursor ??= { pass: 0, offset: 0 };
          this.resumedFrom = ckpt.path;
        }
      }
      const opt = await this.model.getOptimizerState();
      const layout = opt.tensors.map((t) => ({ name: t.name, shape: t.shape }));
      await this.store.set(
        K.state(g),
        JSON.stringify({
          state: this.state,
          optLayout: layout,
          optConfig: opt.config,
          resumedFrom: this.resumedFrom,
        }),
      );
    }
    const meta = JSON.parse(await this.store.get(K.state(g), this.o.commTimeoutMs ?? 30_000)) as {
      state: TrainerState;
      optLayout: { name: string; shape: number[] }[];
      optConfig: Parameters<Model['setOptimizerState']>[0]['config'];
      resumedFrom?: string;
    };
    const modelState = await this.model.getState();
    const opt =
      group.rank === 0
        ? (await this.model.getOptimizerState()).tensors
        : meta.optLayout.map((l) => ({ ...l, data: new Float32Array(l.shape.reduce((a, b) => a * b, 1)) }));
    const tensors: NamedTensor[] = [...modelState.tensors, ...opt];
    const flat = new Float32Array(tensors.reduce((n, t) => n + t.data.length, 0));
    let off = 0;
    for (const t of tensors) {
      flat.set(t.data, off);
      off += t.data.length;
    }
    await group.broadcast(flat, 0);
    if (group.rank !== 0) {
      off = 0;
      for (const t of tensors) {
        t.data = flat.slice(off, off + t.data.length);
        off += t.data.length;
      }
      await this.model.setState({ tensors: tensors.slice(0, modelState.tensors.length) });
      if (opt.length)
        await this.model.setOptimizerState({
          config: meta.optConfig,
          tensors: tensors.slice(modelState.tensors.length),
        });
      this.state = meta.state;
      this.resumedFrom = meta.resumedFrom;
    }
    this.fresh = false;
    this.lr = -1;
  }

  private stepsPerEpoch(): number {
    return this.o.stepsPerEpoch ?? this.feed.batchesPerPass(this.o.batchSize, this.worldSize);
  }

  /** Trains until the last epoch ends (true) or the generation changes (false). */
  private async train(
    group: ProcessGroup,
    g: number,
    test: { images: Float32Array; labels: Int32Array },
  ): Promise<boolean> {
    const P = this.model.trainableParamCount;
    while (this.state.epoch < this.o.epochs) {
      this.epochStart ??= performance.now();
      if (this.state.stepInEpoch === 0 && this.state.epochSums.count === 0)
        this.o.onEvent?.({ event: 'epoch-begin', epoch: this.state.epoch + 1 });
      while (this.state.stepInEpoch < this.stepsPerEpoch()) {
        if (Number(await this.store.get(K.generation)) !== g) return false;
        await this.step(group, g, P);
      }
      await this.endEpoch(group, test);
    }
    return true;
  }

  private async step(group: ProcessGroup, g: number, P: number): Promise<void> {
    const lr = this.o.schedule(this.state.epoch, this.o.baseLr);
    if (lr !== this.lr) {
      await this.model.setLearningRate(lr);
      this.lr = lr;
    }
    const t0 = performance.now();
    const batch = this.feed.take(
      this.state.cursor ?? { pass: 0, offset: 0 },
      this.o.batchSize,
      group.size,
      group.rank,
    );
    const r = await this.model.forwardBackward(batch.images, batch.labels);
    const grads = await this.model.getGradients();
    // One buffer, one bucketed allreduce: the gradients plus this step's loss/correct/count, averaged.
    const buf = new Float32Array(P + 3);
    buf.set(grads);
    buf[P] = r.loss * r.count;
    buf[P + 1] = r.correct;
    buf[P + 2] = r.count;
    const t1 = performance.now();
    try {
      await group.allreduce(buf, 'avg');
    } catch (err) {
      this.metrics.abandonedSteps++;
      await this.store.add(K.faults(g), 1).catch(() => undefined);
      this.o.onEvent?.({ event: 'step-abandoned', generation: g, reason: (err as Error).message });
      throw new Abandon();
    }
    const t2 = performance.now();
    await this.model.setGradients(buf.subarray(0, P));
    await this.model.applyGradients();
    const t3 = performance.now();
    const W = group.size;
    const s = this.state;
    s.cursor = batch.next;
    s.globalStep++;
    s.stepInEpoch++;
    s.epochSums.loss += (buf[P] as number) * W;
    s.epochSums.correct += (buf[P + 1] as number) * W;
    s.epochSums.count += (buf[P + 2] as number) * W;
    this.metrics.steps++;
    this.metrics.computeSeconds += (t1 - t0 + (t3 - t2)) / 1000;
    this.metrics.commSeconds += (t2 - t1) / 1000;
    this.metrics.bytesSent += Math.round(((2 * (W - 1)) / W) * buf.byteLength);
    this.trainSeconds += (t3 - t0) / 1000;
    this.images += (buf[P + 2] as number) * W;
    if (group.rank === 0) {
      this.o.onStep?.({
        epoch: s.epoch,
        step: s.stepInEpoch,
        stepsPerEpoch: this.stepsPerEpoch(),
        globalStep: s.globalStep,
        loss: s.epochSums.loss / s.epochSums.count,
        accuracy: s.epochSums.correct / s.epochSums.count,
        imagesPerSecond: this.images / this.trainSeconds,
        lr,
      });
      const every = this.o.checkpointEvery;
      if (every && s.globalStep % every === 0) await this.checkpoint();
    }
  }

  /** Epoch boundary: replicas checked identical, buffers re-synced, chief evaluates and checkpoints. */
  private async endEpoch(
    group: ProcessGroup,
    test: { images: Float32Array; labels: Int32Array },
  ): Promise<void> {
    const params = await this.model.getParameters();
    let sum = 0;
    let weighted = 0;
    for (let i = 0; i < params.length; i++) {
      sum += params[i] as number;
      weighted += (params[i] as number) * ((i % 997) + 1);
    }
    const check = new Float32Array([sum, weighted, -sum, -weighted]);
    await group.allreduce(check, 'max');
    const identical =
      check[0] === Math.fround(sum) &&
      check[1] === Math.fround(weighted) &&
      -(check[2] as number) === Math.fround(sum) &&
      -(check[3] as number) === Math.fround(weighted);
    this.replicaChecks.push({ epoch: this.state.epoch + 1, identical });
    if (!identical) this.o.onEvent?.({ event: 'replica-mismatch', epoch: this.state.epoch + 1 });
    // Batch-norm statistics drift per replica (each sees other data); rank 0's become everyone's.
    const st = await this.model.getState();
    const flat = new Float32Array(st.tensors.reduce((n, t) => n + t.data.length, 0));
    let off = 0;
    for (const t of st.tensors) {
      flat.set(t.data, off);
      off += t.data.length;
    }
    await group.broadcast(flat, 0);
    if (group.rank !== 0) {
      off = 0;
      for (const t of st.tensors) {
        t.data = flat.slice(off, off + t.data.length);
        off += t.data.length;
      }
      await this.model.setState(st);
    }
    // The chief evaluates and publishes the epoch's log; every replica keeps it, so a new chief has the history.
    const s = this.state;
    if (group.rank === 0) {
      const val = await this.model.evaluate(test.images, test.labels);
      const log: EpochLog = {
        epoch: s.epoch,
        loss: s.epochSums.loss / s.epochSums.count,
        accuracy: s.epochSums.correct / s.epochSums.count,
        valLoss: val.loss,
        valAccuracy: val.accuracy,
        valCount: val.count,
        lr: this.lr,
        seconds: (performance.now() - (this.epochStart ?? performance.now())) / 1000,
      };
      await this.store.set(K.epochLog(s.epoch), JSON.stringify(log));
    }
    const log = JSON.parse(
      await this.store.get(K.epochLog(s.epoch), this.o.commTimeoutMs ?? 30_000),
    ) as EpochLog;
    s.history.push(log);
    s.epoch++;
    s.stepInEpoch = 0;
    s.epochSums = { loss: 0, correct: 0, count: 0 };
    this.epochStart = undefined;
    if (group.rank === 0) {
      await this.checkpoint();
      this.o.onEpoch?.(log);
    }
  }

  private async checkpoint(): Promise<void> {
    this.lastCheckpoint = await saveCheckpoint(this.o.checkpointDir, {
      name: this.o.name,
      spec: this.o.spec,
      classNames: this.o.classNames,
      model: this.model,
      state: this.state,
    });
  }

  /** Chief only: writes the model package and publishes the job's result. */
  private async finish(agent: ElasticAgent | undefined): Promise<DistributedResult> {
    const st = await this.model.getState();
    const last = this.state.history[this.state.history.length - 1];
    const workers: WorkerMetrics[] = [this.metrics];
    const result: DistributedResult = {
      epochs: this.state.epoch,
      steps: this.state.globalStep,
      history: this.state.history,
      trainSeconds: this.trainSeconds,
      imagesPerSecond: this.trainSeconds ? this.images / this.trainSeconds : 0,
      testAccuracy: last?.valAccuracy,
      testLoss: last?.valLoss,
      worldSizeAtEnd: this.worldSize,
      replicaChecks: this.replicaChecks,
      membershipChanges: agent?.changes ?? [],
      workers,
      resumedFrom: this.resumedFrom,
      path: this.o.outDir,
    };
    const metrics = packageMetrics(result);
    await savePackage(this.o.outDir, {
      name: this.o.name,
      spec: this.o.spec,
      tensors: st.tensors,
      classNames: this.o.classNames,
      metrics,
      scoreKey: this.o.scoreKey,
      lineage: {
        ...this.o.lineage,
        epochs: result.epochs,
        steps: result.steps,
        worldSizeAtEnd: this.worldSize,
        lastCheckpoint: this.lastCheckpoint ?? null,
      },
    });
    await this.store.set(K.done, JSON.stringify(result));
    return result;
  }
}
