import type { Dataset, ScaledExample } from '../../data/index.js';
import { createModel, type Model } from '../../engine/index.js';
import { savePackage } from '../../models/index.js';
import type { EpochLog, StepLog } from '../callbacks.js';
import { TrainError } from '../errors.js';
import { packageMetrics, type TrainingJob } from '../job.js';
import { wholeSplit } from '../feed.js';
import { ShardedFeed } from '../distributed/index.js';
import { PsClient, type ServerAddress } from './client.js';
import { checkPartition, type Partition } from './partition.js';
import type { ServerStats } from './server.js';

export interface PsWorkerOptions extends TrainingJob {
  /** This worker's index (0 = the chief) and the number of workers. */
  rank: number;
  workers: number;
  servers: ServerAddress[];
  partition: Pick<Partition, 'shards'>;
  /** Needed by the chief only (it evaluates). */
  test?: Dataset<ScaledExample>;
  /** For reporting only: the servers apply the learning rate. */
  baseLr: number;
  /** Where the chief writes the model package. */
  outDir: string;
  lineage: Record<string, unknown>;
  /** The job's secret, presented to every server. */
  secret: string;
  connectTimeoutMs?: number;
  /** A server silent this long with a request outstanding fails the worker (--comm-timeout). */
  requestTimeoutMs?: number;
  onStep?: (log: StepLog) => void;
  onEpoch?: (log: EpochLog) => void;
}

/** What one worker measured. */
export interface PsWorkerMetrics {
  rank: number;
  steps: number;
  examples: number;
  computeSeconds: number;
  /** Pull (including waits under a staleness bound) plus push time. */
  commSeconds: number;
  pullSeconds: number;
  pushSeconds: number;
  evalSeconds: number;
  bytesPushed: number;
  bytesPulled: number;
  seconds: number;
}

/** The chief's report (what `distml train --strategy parameter-server --json` prints, plus the launcher's). */
export interface PsResult {
  strategy: 'parameter-server';
  epochs: number;
  /** Gradient pushes applied (each one worker's batch). */
  steps: number;
  examples: number;
  history: EpochLog[];
  trainSeconds: number;
  imagesPerSecond: number;
  testAccuracy?: number;
  testLoss?: number;
  workers: PsWorkerMetrics[];
  servers: ServerStats[];
  path: string;
}

/**
 * One parameter-server worker (book 3.2): pull every shard, compute gradients on its DATA shard of the next
 * global batch, push each server its slice, repeat — never waiting for the other workers (unless the
 * servers enforce a staleness bound). Epochs are examples applied across all workers. Batch-norm moving
 * statistics are not trainable, so they stay worker-local; the chief's are the ones saved. The chief
 * (rank 0) evaluates the freshest parameters at every epoch end and writes the model package.
 */
export async function runPsWorker(
  o: PsWorkerOptions,
): Promise<{ metrics: PsWorkerMetrics; result?: PsResult }> {
  const examples: ScaledExample[] = [];
  for await (const chunk of o.train.chunks()) examples.push(...chunk);
  const feed = new ShardedFeed(examples, o.seed);
  const perEpoch = o.stepsPerEpoch ?? feed.batchesPerPass(o.batchSize, o.workers);
  if (perEpoch < 1)
    throw new TrainError(
      'TRAIN_NO_DATA',
      `${feed.size} examples are fewer than one global batch of ${o.batchSize} × ${o.workers}`,
    );
  const epochExamples = perEpoch * o.batchSize * o.workers;
  const model = createModel(o.spec, { seed: o.seed });
  const chief = o.rank === 0;
  try {
    checkPartition(o.partition, model.trainableParamCount);
    const test = chief && o.test ? await wholeSplit(o.test) : undefined;
    const client = await PsClient.connect({
      worker: o.rank,
      workers: o.workers,
      shards: o.partition.shards,
      servers: o.servers,
      epochExamples,
      totalExamples: epochExamples * o.epochs,
      secret: o.secret,
      connectTimeoutMs: o.connectTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs,
    });
    try {
      const loop = new WorkerLoop(o, model, client, feed, epochExamples, test);
      return await loop.run();
    } finally {
      client.close();
    }
  } finally {
    await model.dispose();
  }
}

class WorkerLoop {
  private readonly m: PsWorkerMetrics;
  private readonly history: EpochLog[] = [];
  private readonly started = performance.now();
  private epochStarted = performance.now();
  private local = { loss: 0, correct: 0, count: 0 };

  constructor(
    private readonly o: PsWorkerOptions,
    private readonly model: Model,
    private readonly client: PsClient,
    private readonly feed: ShardedFeed,
    private readonly epochExamples: number,
    private readonly test: { images: Float32Array; labels: Int32Array } | undefined,
  ) {
    this.m = {
      rank: o.rank,
      steps: 0,
      examples: 0,
      computeSeconds: 0,
      commSeconds: 0,
      pullSeconds: 0,
      pushSeconds: 0,
      evalSeconds: 0,
      bytesPushed: 0,
      bytesPulled: 0,
      seconds: 0,
    };
  }

  async run(): Promise<{ metrics: PsWorkerMetrics; result?: PsResult }> {
    const o = this.o;
    const params = new Float32Array(this.model.trainableParamCount);
    let cursor = { pass: 0, offset: 0 };
    let examples = 0;
    for (;;) {
      const t0 = performance.now();
      const pulled = await this.client.pull(this.m.steps, params);
      const t1 = performance.now();
      this.m.pullSeconds += (t1 - t0) / 1000;
      examples = pulled.examples;
      await this.model.setParameters(params);
      // The others kept pushing while the chief evaluated: pull again rather than compute on stale values.
      if (o.rank === 0 && (await this.epochEnds(examples, pulled.done)) && !pulled.done) continue;
      if (pulled.done) break;
      const t2 = performance.now();
      const batch = this.feed.take(cursor, o.batchSize, o.workers, o.rank);
      cursor = batch.next;
      const r = await this.model.forwardBackward(batch.images, batch.labels);
      if (!Number.isFinite(r.loss))
        throw new TrainError(
          'TRAIN_NON_FINITE_LOSS',
          `worker ${o.rank}: loss is ${r.loss} at step ${this.m.steps + 1}`,
        );
      const grads = await this.model.getGradients();
      const t3 = performance.now();
      this.client.push(grads, {
        clock: this.m.steps + 1,
        pulledVersions: pulled.versions,
        count: r.count,
        loss: r.loss,
        correct: r.correct,
      });
      const t4 = performance.now();
      this.m.computeSeconds += (t3 - t2) / 1000;
      this.m.pushSeconds += (t4 - t3) / 1000;
      this.m.steps++;
      this.m.examples += r.count;
      this.local.loss += r.loss * r.count;
      this.local.correct += r.correct;
      this.local.count += r.count;
      if (o.rank === 0) this.progress(examples + r.count);
    }
    const m = this.m;
    m.commSeconds = m.pullSeconds + m.pushSeconds;
    m.bytesPushed = this.client.bytesPushed;
    m.bytesPulled = this.client.bytesPulled;
    m.seconds = (performance.now() - this.started) / 1000;
    if (o.rank !== 0) return { metrics: { ...m } };
    return { metrics: { ...m }, result: await this.finish(examples) };
  }

  private progress(examples: number): void {
    const o = this.o;
    const perEpoch = this.epochExamples / o.batchSize;
    const epoch = Math.min(Math.floor(examples / this.epochExamples), o.epochs - 1);
    const seconds = (performance.now() - this.started) / 1000;
    o.onStep?.({
      epoch,
      step: Math.min(perEpoch, Math.floor((examples - epoch * this.epochExamples) / o.batchSize)),
      stepsPerEpoch: perEpoch,
      globalStep: Math.floor(examples / o.batchSize),
      loss: this.local.loss / this.local.count,
      accuracy: this.local.correct / this.local.count,
      imagesPerSecond: examples / seconds,
      lr: o.schedule(epoch, o.baseLr),
    });
  }

  /** Chief: logs (and evaluates the just-pulled parameters for) every epoch the job has completed. */
  private async epochEnds(examples: number, done: boolean): Promise<boolean> {
    const finished = done
      ? this.o.epochs
      : Math.min(this.o.epochs, Math.floor(examples / this.epochExamples));
    if (this.history.length >= finished) return false;
    const t0 = performance.now();
    const val = this.test ? await this.model.evaluate(this.test.images, this.test.labels) : undefined;
    const stats = await this.client.stats();
    this.m.evalSeconds += (performance.now() - t0) / 1000;
    while (this.history.length < finished) {
      const e = this.history.length;
      const sums = stats[0]?.epochs[e] ?? { loss: 0, correct: 0, count: 0 };
      const log: EpochLog = {
        epoch: e,
        loss: sums.count ? sums.loss / sums.count : Number.NaN,
        accuracy: sums.count ? sums.correct / sums.count : Number.NaN,
        valLoss: val?.loss,
        valAccuracy: val?.accuracy,
        valCount: val?.count,
        lr: this.o.schedule(e, this.o.baseLr),
        seconds: (performance.now() - this.epochStarted) / 1000,
      };
      this.history.push(log);
      this.o.onEpoch?.(log);
    }
    this.epochStarted = performance.now();
    this.local = { loss: 0, correct: 0, count: 0 };
    return true;
  }

  /** Chief: saves the final parameters (and its own batch-norm statistics) as the model package. */
  private async finish(examples: number): Promise<PsResult> {
    const o = this.o;
    const servers = await this.client.stats();
    const last = this.history[this.history.length - 1];
    const trainSeconds = (performance.now() - this.started) / 1000;
    const result: PsResult = {
      strategy: 'parameter-server',
      epochs: this.history.length,
      steps: servers[0]?.version ?? 0,
      examples,
      history: this.history,
      trainSeconds,
      imagesPerSecond: examples / trainSeconds,
      testAccuracy: last?.valAccuracy,
      testLoss: last?.valLoss,
      workers: [{ ...this.m }],
      servers,
      path: o.outDir,
    };
    const metrics = packageMetrics(result);
    const st = await this.model.getState();
    await savePackage(o.outDir, {
      name: o.name,
      spec: o.spec,
      tensors: st.tensors,
      classNames: o.classNames,
      metrics,
      scoreKey: o.scoreKey,
      lineage: {
        ...o.lineage,
        strategy: 'parameter-server',
        epochs: result.epochs,
        steps: result.steps,
        workers: o.workers,
      },
    });
    return result;
  }
}
