import type { Dataset, ScaledExample } from '../data/index.js';
import type { ModelSpec } from '../engine/index.js';
import type { EpochLog } from './callbacks.js';
import type { LrSchedule } from './schedule.js';

/**
 * What every training strategy (one process, allreduce workers, parameter-server workers) is asked to do:
 * which model, on which data, for how long and at what learning rate.
 */
export interface TrainingJob {
  /** Model name recorded in checkpoints and the model package. */
  name: string;
  spec: ModelSpec;
  classNames: readonly string[];
  /** Unbatched, preprocessed training examples (cached upstream, ideally). */
  train: Dataset<ScaledExample>;
  /** Validation data, evaluated after every epoch. */
  test?: Dataset<ScaledExample>;
  epochs: number;
  /** Steps per epoch (global steps when distributed); default: one full pass over the training data. */
  stepsPerEpoch?: number;
  /** Examples per step (per worker when distributed: the global batch is this × workers, book 9.1.2). */
  batchSize: number;
  seed: number;
  baseLr: number;
  schedule: LrSchedule;
  /** The workspace's score key: the saved package's test figures get its HMAC, so `select` may trust them. */
  scoreKey?: Uint8Array;
}

/**
 * The metrics a trained model's package records: speed, and the last epoch's test figures, which were measured
 * on exactly the weights saved (every strategy evaluates at the end of its last epoch and saves those
 * weights). With the test data's fingerprint in the lineage, `select` can use them instead of evaluating again.
 */
export function packageMetrics(r: {
  trainSeconds: number;
  imagesPerSecond: number;
  history: EpochLog[];
}): Record<string, number> {
  const m: Record<string, number> = { trainSeconds: r.trainSeconds, imagesPerSecond: r.imagesPerSecond };
  const last = r.history[r.history.length - 1];
  if (last?.valAccuracy !== undefined) m['testAccuracy'] = last.valAccuracy;
  if (last?.valLoss !== undefined) m['testLoss'] = last.valLoss;
  if (last?.valCount !== undefined) m['testCount'] = last.valCount;
  return m;
}
