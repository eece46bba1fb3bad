import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkpointDirOf } from '../../src/cli/commands/train/job.js';
import { createModel, setNumThreads, type Model } from '../../src/engine/index.js';
import { bookModelSpec } from '../../src/models/index.js';
import {
  resumeLatest,
  saveCheckpoint,
  TrainError,
  type SkippedCheckpoint,
  type TrainerState,
} from '../../src/train/index.js';
import { tempDir } from '../data/fixtures.js';

const tmp = tempDir('distml-ckpt-');
before(() => setNumThreads(1));
after(tmp.cleanup);

const spec = bookModelSpec('cnn');

async function newModel(s = spec, seed = 3): Promise<Model> {
  const m = createModel(s, { seed });
  await m.setOptimizer({ type: 'adam', learningRate: 0.001 });
  return m;
}

function state(globalStep: number): TrainerState {
  return {
    epoch: 0,
    stepInEpoch: globalStep,
    globalStep,
    seed: 1,
    history: [],
    epochSums: { loss: 0, correct: 0, count: 0 },
  };
}

async function saveSteps(dir: string, steps: number[]): Promise<void> {
  const model = await newModel();
  try {
    for (const s of steps)
      await saveCheckpoint(dir, { name: 'cnn', spec, classNames: [], model, state: state(s), keep: 5 });
  } finally {
    await model.dispose();
  }
}

describe('checkpoints', () => {
  it('record their weights SHA-256 in model.json', async () => {
    const dir = join(tmp.dir, 'digest');
    await saveSteps(dir, [4]);
    const manifest = JSON.parse(readFileSync(join(dir, 'ckpt-00000004', 'model.json'), 'utf8'));
    assert.match(manifest.weightsSha256, /^[0-9a-f]{64}$/);
  });

  it('resume passes over a damaged newest checkpoint, says so, and takes the newest that validates', async () => {
    const dir = join(tmp.dir, 'fallback');
    await saveSteps(dir, [5, 10, 15]);
    const weights = join(dir, 'ckpt-00000015', 'weights.safetensors');
    const bytes = readFileSync(weights);
    bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 0xff, bytes.length - 1); // the last weight damaged
    writeFileSync(weights, bytes);
    const skipped: SkippedCheckpoint[] = [];
    const model = await newModel(spec, 99);
    try {
      const r = await resumeLatest(dir, model, { spec, onSkip: (s) => skipped.push(s) });
      assert.match(r?.path ?? '', /ckpt-00000010$/);
      assert.equal(r?.state.globalStep, 10);
      assert.equal(skipped.length, 1);
      assert.match(skipped[0]?.path ?? '', /ckpt-00000015$/);
      assert.match(skipped[0]?.reason ?? '', /SHA-256/);
      assert.deepEqual(r?.skipped, skipped);
    } finally {
      await model.dispose();
    }
  });

  it('resume refuses a checkpoint of another model spec with a clear error', async () => {
    const dir = join(tmp.dir, 'other-model');
    await saveSteps(dir, [2]);
    const other = bookModelSpec('dropout');
    const model = await newModel(other);
    try {
      await assert.rejects(
        resumeLatest(dir, model, { spec: other }),
        (e: unknown) =>
          e instanceof TrainError &&
          e.code === 'TRAIN_CHECKPOINT_MISMATCH' &&
          /another model spec/.test(e.message) &&
          /--checkpoint-dir/.test(e.message),
      );
    } finally {
      await model.dispose();
    }
  });

  it('resume says what is wrong when no checkpoint validates', async () => {
    const dir = join(tmp.dir, 'none-valid');
    await saveSteps(dir, [1]);
    writeFileSync(join(dir, 'ckpt-00000001', 'model.json'), '{');
    const model = await newModel();
    try {
      await assert.rejects(
        resumeLatest(dir, model, { spec }),
        /no checkpoint in .* can be resumed from.*not JSON/,
      );
      assert.equal(await resumeLatest(join(tmp.dir, 'empty'), model, { spec }), undefined);
    } finally {
      await model.dispose();
    }
  });

  it('saving the same step again replaces it without leaving a second copy', async () => {
    const dir = join(tmp.dir, 'same-step');
    await saveSteps(dir, [3, 3]);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('ckpt-')),
      ['ckpt-00000003'],
    );
    assert.equal(readFileSync(join(dir, 'latest'), 'utf8'), 'ckpt-00000003');
  });

  it('default folders are keyed by the resolved --out path, the model and the seed', () => {
    const flags = (out: string, model: string, seed: number) =>
      ({ out, model, seed }) as unknown as Parameters<typeof checkpointDirOf>[0];
    const dirOf = (out: string, model = 'cnn', seed = 1) =>
      checkpointDirOf(flags(out, model, seed), '/ws', out);
    const a = dirOf('/exp/a/cnn');
    assert.match(a, /^\/ws\/checkpoints\/cnn-cnn-seed1-[0-9a-f]{12}$/);
    assert.notEqual(a, dirOf('/exp/b/cnn'), 'two experiments writing to .../cnn never share a folder');
    assert.notEqual(a, dirOf('/exp/a/cnn', 'cnn', 2), 'another seed');
    assert.notEqual(a, dirOf('/exp/a/cnn', 'dropout'), 'another model');
    assert.equal(a, dirOf('/exp/a/../a/cnn'), 'the same place spelled differently');
    const explicit = { ...flags('/x', 'cnn', 1), 'checkpoint-dir': '/my/ck' } as Parameters<
      typeof checkpointDirOf
    >[0];
    assert.equal(checkpointDirOf(explicit, '/ws', '/x'), '/my/ck');
  });
});
