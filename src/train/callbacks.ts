/** Numbers a callback sees after each step. */
export interface StepLog {
  epoch: number;
  /** Step within the epoch, 1-based after the step. */
  step: number;
  stepsPerEpoch: number;
  globalStep: number;
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  lr: number;
}

/** Numbers a callback sees after each epoch. */
export interface EpochLog {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Examples the validation figures were measured on. */
  valCount?: number;
  lr: number;
  seconds: number;
}

/** Hooks into the fit loop (Keras-style). Returning 'stop' from onEpochEnd ends training early. */
export interface Callback {
  onEpochBegin?(epoch: number, lr: number): void | Promise<void>;
  onStepEnd?(log: StepLog): void | Promise<void>;
  onEpochEnd?(log: EpochLog): void | 'stop' | Promise<void | 'stop'>;
}

/** Stops when the monitored validation metric has not improved by `minDelta` for `patience` epochs. */
export function earlyStopping(opts: {
  patience: number;
  monitor?: 'valAccuracy' | 'valLoss';
  minDelta?: number;
}): Callback & {
  stoppedAt?: number;
} {
  const monitor = opts.monitor ?? 'valAccuracy';
  const sign = monitor === 'valLoss' ? -1 : 1;
  const minDelta = opts.minDelta ?? 0;
  let best = -Infinity;
  let wait = 0;
  const cb: Callback & { stoppedAt?: number } = {
    onEpochEnd(log) {
      const v = log[monitor];
      if (v === undefined) return;
      if (sign * v > best + minDelta) {
        best = sign * v;
        wait = 0;
        return;
      }
      if (++wait >= opts.patience) {
        cb.stoppedAt = log.epoch;
        return 'stop';
      }
    },
  };
  return cb;
}

/** The book's PrintLR: reports the learning rate at the start of each epoch. */
export function printLr(print: (line: string) => void): Callback {
  return { onEpochBegin: (epoch, lr) => print(`Learning rate for epoch ${epoch + 1} is ${lr}`) };
}
