import { createModel, ProcessGroup, type Model, type Store } from '../../engine/index.js';
import type { ScaledExample } from '../../data/index.js';
import type { EpochLog } from '../callbacks.js';
import { resumeLatest, saveCheckpoint, type TrainerState } from '../checkpoint.js';
import { TrainError } from '../errors.js';
import { wholeSplit } from '../feed.js';
import { savePackageOf } from './publish.js';
import type { ElasticAgent } from './agent.js';
import { Abandon, FailurePolicy, isCommFailure } from './failure-policy.js';
import type { DistributedResult, ResolvedWorkerOptions, WorkerMetrics, WorkerPreempted } from './options.js';
import { K, type Generation, type PreemptionPoint } from './protocol.js';
import { replicasIdentical, syncBuffers, syncFromRank0 } from './replica-sync.js';
import { ShardedFeed, type Cursor } from './sharded-feed.js';

type TestSplit = { images: Float32Array; labels: Int32Array };

/** Best effort: a store write whose failure must not mask the error being handled (the store may be gone). */
const bestEffort = (p: Promise<unknown>): Promise<unknown> => p.catch(() => undefined);

/**
 * The step loop of one data-parallel worker: follows the agent's generations, trains its shard of every
 * global batch with one allreduce per step, and at epoch ends checks replicas, evaluates (chief) and
 * checkpoints (chief). Generation failures are judged by FailurePolicy.
 */
export class Trainer {
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
    private readonly o: ResolvedWorkerOptions,
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

  async run(agent: ElasticAgent | undefined): Promise<DistributedResult | WorkerPreempted | undefined> {
    const examples: ScaledExample[] = [];
    for await (const chunk of this.o.train.chunks()) examples.push(...chunk);
    this.feed = new ShardedFeed(examples, this.o.seed);
    this.model = createModel(this.o.spec, { seed: this.o.seed });
    await this.model.setOptimizer({ type: 'adam', learningRate: this.o.baseLr });
    const test = await wholeSplit(this.o.test);
    const failures = new FailurePolicy(this.o.maxFailedGenerations);
    let lastGen = -1;
    try {
      for (;;) {
        const gen = await this.nextGeneration(lastGen);
        if (!gen) return undefined; // training finished while waiting
        lastGen = gen.generation;
        const rank = gen.members.indexOf(this.id);
        let group: ProcessGroup | undefined;
        try {
          group = await this.join(gen, rank);
          await this.sync(group, gen.generation);
          const outcome = await this.train(group, gen.generation, test);
          if (outcome === 'finished') return await this.finish(rank, agent);
          if (outcome === 'preempted') return await this.stopForPreemption(rank);
          failures.succeeded();
        } catch (err) {
          if (isCommFailure(err)) await this.reportFault(gen.generation, err as Error);
          failures.failed(err);
        } finally {
          // Best effort: the group is being left because it failed or changed; a close error adds nothing.
          await group?.close().catch(() => undefined);
        }
      }
    } finally {
      await this.model.dispose();
    }
  }

  /** A peer lost while forming or syncing the group fails this generation like a failed step does. */
  private async reportFault(g: number, err: Error): Promise<void> {
    await bestEffort(this.store.add(K.faults(g), 1));
    this.o.onEvent?.({ event: 'generation-failed', generation: g, reason: err.message });
  }

  /** Waits for a generation newer than `after` that includes this worker. */
  private async nextGeneration(after: number): Promise<Generation | undefined> {
    for (let notMine = 0; ;) {
      if (await this.store.check([K.done])) return undefined;
      // Preempted while waiting to be admitted, or asked to leave (the job shrank): nothing of ours to save.
      if (await this.store.check([K.preempted])) return undefined;
      if (await this.store.check([K.dismissed(this.id)])) {
        this.o.onEvent?.({ event: 'worker-dismissed', worker: this.id });
        return undefined;
      }
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
    return ProcessGroup.create(this.store, {
      prefix: `pg/${gen.generation}`,
      rank,
      size: this.worldSize,
      timeoutMs: this.o.commTimeoutMs,
      iface: this.o.iface,
    });
  }

  /**
   * Rank 0 of a group of fresh workers (a new job, or a restart after every worker died) first restores the
   * newest checkpoint when asked to resume; then every replica becomes identical to rank 0.
   */
  private async sync(group: ProcessGroup, g: number): Promise<void> {
    if (group.rank === 0 && this.fresh && this.o.resume) {
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
    const mine = { state: this.state, resumedFrom: this.resumedFrom };
    const shared = await syncFromRank0(group, this.store, this.model, g, mine, this.o.commTimeoutMs);
    this.state = shared.state;
    this.resumedFrom = shared.resumedFrom;
    this.fresh = false;
    this.lr = -1;
  }

  private stepsPerEpoch(): number {
    return this.o.stepsPerEpoch ?? this.feed.batchesPerPass(this.o.batchSize, this.worldSize);
  }

  /** Trains until the last epoch ends, the generation changes, or the job is preempted. */
  private async train(
    group: ProcessGroup,
    g: number,
    test: TestSplit,
  ): Promise<'finished' | 'changed' | 'preempted'> {
    const P = this.model.trainableParamCount;
    while (this.state.epoch < this.o.epochs) {
      this.epochStart ??= performance.now();
      if (this.state.stepInEpoch === 0 && this.state.epochSums.count === 0)
        this.o.onEvent?.({ event: 'epoch-begin', epoch: this.state.epoch + 1 });
      while (this.state.stepInEpoch < this.stepsPerEpoch()) {
        const outcome = await this.step(group, g, P);
        if (outcome !== 'stepped') return outcome;
      }
      await this.endEpoch(group, test);
    }
    return 'finished';
  }

  /**
   * What this worker asks of the group at this step boundary, carried in the step's allreduce so that every
   * replica decides alike at the same step: a newer generation (drop this step, follow the agent), or a
   * preemption request (take this step, then stop).
   */
  private async boundaryFlags(g: number): Promise<{ changed: number; preempt: number }> {
    const changed = Number(await this.store.get(K.generation)) !== g;
    const preempt = this.o.preempt?.aborted === true || (await this.store.check([K.preempt]));
    return { changed: changed ? 1 : 0, preempt: preempt ? 1 : 0 };
  }

  private async step(
    group: ProcessGroup,
    g: number,
    P: number,
  ): Promise<'stepped' | 'changed' | 'preempted'> {
    // The boundary flags first, in a tiny allreduce of their own (max: set for the group when anyone's is):
    // a newer generation skips the step's compute, and the gradient buffer keeps the layout (and so Gloo's
    // summation order, and results) it always had.
    const flags = await this.boundaryFlags(g);
    const asked = new Float32Array([flags.changed, flags.preempt]);
    await this.collective(g, () => group.allreduce(asked, 'max'));
    if ((asked[0] as number) > 0) return 'changed';
    // World-size changes keep the per-worker batch (the global batch follows the group) and the learning
    // rate: see README "Elastic training" for why (Adam; measured).
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
    await this.collective(g, () => group.allreduce(buf, 'avg'));
    const t2 = performance.now();
    await this.model.setGradients(buf.subarray(0, P));
    await this.model.applyGradients();
    const t3 = performance.now();
    await this.account(group, buf, P, batch.next, [t0, t1, t2, t3], lr);
    return (asked[1] as number) > 0 ? 'preempted' : 'stepped';
  }

  /** A step's collective; when it fails (a peer lost), the step is abandoned and the generation with it. */
  private async collective(g: number, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      this.metrics.abandonedSteps++;
      // Best effort: the fault count only hurries the agent; a store that is gone is its own failure.
      await bestEffort(this.store.add(K.faults(g), 1));
      this.o.onEvent?.({ event: 'step-abandoned', generation: g, reason: (err as Error).message });
      throw new Abandon();
    }
  }

  /** After an applied step: the state advances, the measurements add up, the chief reports and checkpoints. */
  private async account(
    group: ProcessGroup,
    buf: Float32Array,
    P: number,
    next: Cursor,
    [t0, t1, t2, t3]: [number, number, number, number],
    lr: number,
  ): Promise<void> {
    const W = group.size;
    const s = this.state;
    s.cursor = next;
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

  /** The group agreed to stop: the chief checkpoints and says where; every worker returns that point. */
  private async stopForPreemption(rank: number): Promise<WorkerPreempted> {
    const s = this.state;
    let point: PreemptionPoint = {
      checkpoint: null,
      epoch: s.epoch,
      stepInEpoch: s.stepInEpoch,
      globalStep: s.globalStep,
    };
    if (rank === 0) {
      await this.checkpoint();
      point = { ...point, checkpoint: this.lastCheckpoint ?? null };
      await this.store.set(K.preempted, JSON.stringify(point));
    }
    return { preempted: point };
  }

  /** Epoch boundary: replicas checked identical, buffers re-synced, chief evaluates and checkpoints. */
  private async endEpoch(group: ProcessGroup, test: TestSplit): Promise<void> {
    const identical = await replicasIdentical(group, this.model);
    this.replicaChecks.push({ epoch: this.state.epoch + 1, identical });
    if (!identical) this.o.onEvent?.({ event: 'replica-mismatch', epoch: this.state.epoch + 1 });
    await syncBuffers(group, this.model);
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
    const log = JSON.parse(await this.store.get(K.epochLog(s.epoch), this.o.commTimeoutMs)) as EpochLog;
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

  /** Training is over: the chief writes the result; every worker reports its metrics and waits for it. */
  private async finish(
    rank: number,
    agent: ElasticAgent | undefined,
  ): Promise<DistributedResult | undefined> {
    const result = rank === 0 ? await this.publish(agent) : undefined;
    await this.store.set(K.report(this.id), JSON.stringify(this.metrics));
    if (rank !== 0) await this.store.get(K.done, this.o.doneWaitMs);
    return result;
  }

  /** Chief only: writes the model package and publishes the job's result. */
  private async publish(agent: ElasticAgent | undefined): Promise<DistributedResult> {
    const st = await this.model.getState();
    const last = this.state.history[this.state.history.length - 1];
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
      workers: [this.metrics],
      resumedFrom: this.resumedFrom,
      path: this.o.outDir,
    };
    await savePackageOf(this.o, st.tensors, result, this.lastCheckpoint);
    await this.store.set(K.done, JSON.stringify(result));
    return result;
  }
}
