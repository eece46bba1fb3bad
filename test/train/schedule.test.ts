import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookDecay, constantLr, earlyStopping, type EpochLog } from '../../src/train/index.js';

describe('learning-rate schedules and callbacks', () => {
  it("the book's decay: 1e-3 below epoch 3, 1e-4 below epoch 7, 1e-5 after", () => {
    assert.deepEqual(
      Array.from({ length: 10 }, (_, e) => bookDecay(e, 0.5)),
      [1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-4, 1e-4, 1e-5, 1e-5, 1e-5],
    );
    assert.equal(constantLr(9, 0.02), 0.02);
  });

  it('early stopping waits `patience` epochs without improvement', () => {
    const cb = earlyStopping({ patience: 2 });
    const log = (epoch: number, valAccuracy: number): EpochLog => ({
      epoch,
      loss: 1,
      accuracy: 0,
      valAccuracy,
      lr: 1,
      seconds: 1,
    });
    assert.equal(cb.onEpochEnd?.(log(0, 0.5)), undefined);
    assert.equal(cb.onEpochEnd?.(log(1, 0.6)), undefined);
    assert.equal(cb.onEpochEnd?.(log(2, 0.59)), undefined);
    assert.equal(cb.onEpochEnd?.(log(3, 0.6)), 'stop');
    assert.equal(cb.stoppedAt, 3);
    const byLoss = earlyStopping({ patience: 1, monitor: 'valLoss' });
    const l = (e: number, valLoss: number): EpochLog => ({
      epoch: e,
      loss: 1,
      accuracy: 0,
      valLoss,
      lr: 1,
      seconds: 1,
    });
    assert.equal(byLoss.onEpochEnd?.(l(0, 1.0)), undefined);
    assert.equal(byLoss.onEpochEnd?.(l(1, 0.9)), undefined);
    assert.equal(byLoss.onEpochEnd?.(l(2, 0.95)), 'stop');
  });
});
