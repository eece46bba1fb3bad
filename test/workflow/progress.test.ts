import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { progressOf } from '../../src/workflow/engine/progress.js';

describe('step progress (Argo N/M) from progress lines', () => {
  it('counts a training step over all its epochs, other tasks as they are, servers as replicas and req/s', () => {
    const line = (e: Record<string, unknown>) => JSON.stringify(e);
    assert.equal(
      progressOf(line({ event: 'progress', task: 'epoch 2/3', done: 100, total: 938 })),
      '1038/2814',
    );
    assert.equal(progressOf(line({ event: 'progress', task: 'decode', done: 30, total: 60 })), '30/60');
    assert.equal(
      progressOf(line({ event: 'serving', replicas: 2, desired: 3, requestsPerSecond: 41.6 })),
      '2/3 42 req/s',
    );
    assert.equal(
      progressOf(line({ event: 'serving', replicas: 1, desired: 1, requestsPerSecond: 0.25 })),
      '1/1 0.3 req/s',
    );
    assert.equal(progressOf(line({ event: 'progress', task: 'download', done: 5 })), undefined, 'no total');
    assert.equal(progressOf(line({ event: 'epoch', epoch: 1 })), undefined);
    assert.equal(progressOf('--- attempt 1 at ...'), undefined);
  });
});
