import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as train from '../../src/train/index.js';

describe("the train module's public face", () => {
  it('exports entry points and results, not the strategies’ parts', () => {
    const names = Object.keys(train);
    for (const entry of [
      'fit',
      'launchWorkers',
      'runWorker',
      'launchParameterServer',
      'runPsWorker',
      'TrainError',
    ])
      assert.ok(names.includes(entry), entry);
    for (const part of [
      'ShardAdam',
      'ParameterServer',
      'PsClient',
      'shutdownServer',
      'checkPartition',
      'PS_ENV',
      'JOB_SECRET_ENV',
      'ElasticAgent',
      'ShardedFeed',
      'ReplacementBudget',
      'BatchFeed',
      'encodeFrame',
      'FrameReader',
    ])
      assert.ok(!names.includes(part), `${part} is internal to src/train`);
  });
});
