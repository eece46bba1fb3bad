import type { ExampleBatch } from '../data/index.js';
import type { Model } from '../engine/index.js';
import type { Callback, EpochLog } from './callbacks.js';
import { resumeLatest, saveCheckpoint, type SkippedCheckpoint, type TrainerState } from './checkpoint.js';
import { TrainError } from './errors.js';
import { BatchFeed, wholeSplit } from './feed.js';
import type { TrainingJob } from './job.js';

export interface FitOptions extends TrainingJob {
  model: Model;
  callbacks?: Callback[];
  /** Checkpoints: every `everySteps` steps and at each epoch end, atomically, keeping the newest `keep`. */
  checkpoint?: { dir: string; everySteps?: number; keep?: number };
  /** Continue from the newest checkpoint in `checkpoint.dir` when there is one. */
  resume?: boolean;
  /** Told about each newer checkpoint passed over on resume because it does not validate. */
  onCheckpointSkipped?: (s: SkippedCheckpoint) => void;
  shuffleBuffer?: number;
  /**
   * Preemption (preemption.ts): once aborted, the loop stops at the next step boundary after checkpointing,
   * and the result says where (`preempted`).
   */
  preempt?: AbortSignal;
}

export interface FitResult {
  epochs: number;
  steps: number;
  history: EpochLog[];
  /** Wall time of the step loops (data + compute), excluding evaluation and checkpoints. */
  trainSeconds: number;
  imagesPerSecond: number;
  testAccuracy?: number;
  testLoss?: number;
  stoppedEarly: boolean;
  resumedFrom?: string;
  /** Newer checkpoints passed over on resume (damaged or half-written), with the reason. */
  skippedCheckpoints?: SkippedCheckpoint[];
  lastCheckpoint?: string;
  /** Set when the loop stopped for preemption: the position of the checkpoint it wrote. */
  preempted?: { epoch: number; stepInEpoch: number; globalStep: number };
}

function freshState(seed: number): TrainerState {
  return {
    epoch: 0,
    stepInEpoch: 0,
    globalStep: 0,
    seed,
    history: [],
    epochSums: { loss: 0, correct: 0, count: 0 },
  };
}

/** Keras-style fit loop: epochs of steps over a reproducible batch feed, validation, callbacks, checkpoints. */
export async function fit(opts: FitOptions): Promise<FitResult> {
  const { model, callbacks = [] } = opts;
  const ckptDir = opts.checkpoint?.dir;
  const resumed =
    opts.resume && ckptDir
      ? await resumeLatest(ckptDir, model, { spec: opts.spec, onSkip: opts.onCheckpointSkipped })
      : undefined;
  const resumeFrom = resumed?.path;
  const state = resumed?.state ?? freshState(opts.seed);
  const feed = await BatchFeed.create(opts.train, {
    batchSize: opts.batchSize,
    seed: state.seed,
    shuffleBuffer: opts.shuffleBuffer,
    startStep: state.globalStep,
  });
  const stepsPerEpoch = opts.stepsPerEpoch ?? feed.batchesPerPass;
  const testBatch = opts.test ? await wholeSplit(opts.test) : undefined;
  let trainSeconds = 0;
  let images = 0;
  let lastCheckpoint: string | undefined;
  let stoppedEarly = false;
  const checkpoint = async () => {
    if (!ckptDir) return;
    const s = {
      name: opts.name,
      spec: opts.spec,
      classNames: opts.classNames,
      model,
      state,
      keep: opts.checkpoint?.keep,
    };
    lastCheckpoint = await saveCheckpoint(ckptDir, s);
  };

  // The batch being prepared while the previous step computes; it carries over epoch boundaries.
  let next: Promise<ExampleBatch> | undefined;
  const prefetch = () => {
    next = feed.next();
    next.catch(() => undefined); // awaited later; this only keeps an early failure from being "unhandled"
  };
  let preempted = false;
  epochs: while (state.epoch < opts.epochs && !stoppedEarly) {
    const lr = opts.schedule(state.epoch, opts.baseLr);
    await model.setLearningRate(lr);
    for (const cb of callbacks) await cb.onEpochBegin?.(state.epoch, lr);
    const epochStart = performance.now();
    while (state.stepInEpoch < stepsPerEpoch) {
      if ((preempted = opts.preempt?.aborted === true)) {
        await checkpoint();
        break epochs;
      }
      const t0 = performance.now();
      const batch = await (next ?? feed.next());
      next = undefined;
      const last = state.stepInEpoch + 1 === stepsPerEpoch && state.epoch + 1 === opts.epochs;
      const step = model.trainStep(batch.images, batch.labels);
      // Prepare the next batch on this thread while libtorch computes on the pool.
      if (!last) prefetch();
      const r = await step;
      trainSeconds += (performance.now() - t0) / 1000;
      if (!Number.isFinite(r.loss)) {
        const where = lastCheckpoint ?? resumeFrom;
        throw new TrainError(
          'TRAIN_NON_FINITE_LOSS',
          `loss became ${r.loss} at epoch ${state.epoch + 1}, step ${state.stepInEpoch + 1}; ${where ? `the last good checkpoint is ${where}` : 'no checkpoint was written'}; lower the learning rate`,
        );
      }
      images += r.count;
      state.stepInEpoch++;
      state.globalStep++;
      const sums = state.epochSums;
      sums.loss += r.loss * r.count;
      sums.correct += r.correct;
      sums.count += r.count;
      const log = {
        epoch: state.epoch,
        step: state.stepInEpoch,
        stepsPerEpoch,
        globalStep: state.globalStep,
        loss: sums.loss / sums.count,
        accuracy: sums.correct / sums.count,
        imagesPerSecond: images / trainSeconds,
        lr,
      };
      for (const cb of callbacks) await cb.onStepEnd?.(log);
      const every = opts.checkpoint?.everySteps;
      if (every && state.globalStep % every === 0 && state.stepInEpoch < stepsPerEpoch) await checkpoint();
    }
    const val = testBatch ? await model.evaluate(testBatch.images, testBatch.labels) : undefined;
    const sums = state.epochSums;
    const epochLog: EpochLog = {
      epoch: state.epoch,
      loss: sums.loss / sums.count,
      accuracy: sums.correct / sums.count,
      valLoss: val?.loss,
      valAccuracy: val?.accuracy,
      valCount: val?.count,
      lr,
      seconds: (performance.now() - epochStart) / 1000,
    };
    state.history.push(epochLog);
    state.epoch++;
    state.stepInEpoch = 0;
    state.epochSums = { loss: 0, correct: 0, count: 0 };
    await checkpoint();
    for (const cb of callbacks) if ((await cb.onEpochEnd?.(epochLog)) === 'stop') stoppedEarly = true;
  }
  const lastVal = state.history[state.history.length - 1];
  return {
    epochs: state.epoch,
    steps: state.globalStep,
    history: state.history,
    trainSeconds,
    imagesPerSecond: trainSeconds > 0 ? images / trainSeconds : 0,
    testAccuracy: lastVal?.valAccuracy,
    testLoss: lastVal?.valLoss,
    stoppedEarly,
    resumedFrom: resumeFrom,
    ...(resumed?.skipped.length ? { skippedCheckpoints: resumed.skipped } : {}),
    lastCheckpoint,
    ...(preempted ? { preempted: positionOf(state) } : {}),
  };
}

const positionOf = (s: TrainerState) => ({
  epoch: s.epoch,
  stepInEpoch: s.stepInEpoch,
  globalStep: s.globalStep,
});
