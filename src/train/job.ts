import type { Dataset, ScaledExample } from '../data/index.js';
import type { ModelSpec } from '../engine/index.js';
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
}
