import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createModel, setNumThreads, type Model } from '../../src/engine/index.js';
import { bookModelSpec } from '../../src/models/index.js';
import { constantLr, fit, TrainError, type FitOptions } from '../../src/train/index.js';
import { BatchFeed } from '../../src/train/feed.js';
import { tempDir } from '../data/fixtures.js';
import { learnable } from './learnable.js';

const tmp = tempDir();
before(() => setNumThreads(1)); // one thread: bit-for-bit reproducible runs
after(tmp.cleanup);

const spec = bookModelSpec('cnn');
const classNames = Array.from({ length: 10 }, (_, i) => `c${i}`);

async function newModel(): Promise<Model> {
  const m = createModel(spec, { seed: 11 });
  await m.setOptimizer({ type: 'adam', learningRate: 0.002 });
  return m;
}

function options(model: Model, over: Partial<FitOptions> = {}): FitOptions {
  return {
    model,
    name: 'cnn',
    spec,
    classNames,
    train: learnable(160),
    test: learnable(50, 99),
    epochs: 2,
    stepsPerEpoch: 8,
    batchSize: 16,
    seed: 5,
    baseLr: 0.002,
    schedule: constantLr,
    shuffleBuffer: 64,
    ...over,
  };
}

describe('fit', () => {
  it('the batch feed is reproducible and can start at any global step', async () => {
    const a = await BatchFeed.create(learnable(100), { batchSize: 16, seed: 3, shuffleBuffer: 32 });
    const seq: number[][] = [];
    for (let i = 0; i < 14; i++) seq.push(Array.from((await a.next()).indices));
    assert.equal(a.batchesPerPass, 6);
    const b = await BatchFeed.create(learnable(100), {
      batchSize: 16,
      seed: 3,
      shuffleBuffer: 32,
      startStep: 9,
    });
    assert.deepEqual(Array.from((await b.next()).indices), seq[9]);
    assert.notDeepEqual(seq[0], seq[6], 'the second pass is shuffled differently');
  });

  it('learns: loss falls and validation accuracy beats chance by far', async () => {
    const model = await newModel();
    const r = await fit(options(model, { epochs: 3 }));
    assert.equal(r.epochs, 3);
    assert.equal(r.steps, 24);
    const [first, , last] = r.history;
    assert.ok(last!.loss < first!.loss, `loss ${first!.loss} -> ${last!.loss}`);
    assert.ok((r.testAccuracy ?? 0) > 0.5, `accuracy ${r.testAccuracy}`);
    assert.ok(r.imagesPerSecond > 0);
    await model.dispose();
  });

  it('resuming from a mid-epoch checkpoint ends exactly where an uninterrupted run ends', async () => {
    const straight = await newModel();
    await fit(options(straight, { checkpoint: { dir: join(tmp.dir, 'ck-straight') } }));
    const expected = await straight.getParameters();

    const dir = join(tmp.dir, 'ck-crash');
    const crashing = await newModel();
    const crash = {
      onStepEnd: (l: { globalStep: number }) => {
        if (l.globalStep === 12) throw new Error('simulated crash');
      },
    };
    await assert.rejects(
      fit(options(crashing, { checkpoint: { dir, everySteps: 5 }, callbacks: [crash] })),
      /simulated crash/,
    );
    assert.ok(existsSync(join(dir, 'latest')));

    const resumed = await newModel();
    const r = await fit(options(resumed, { checkpoint: { dir, everySteps: 5 }, resume: true }));
    assert.match(r.resumedFrom ?? '', /ckpt-00000010$/);
    assert.equal(r.steps, 16);
    assert.deepEqual(Array.from(await resumed.getParameters()), Array.from(expected));
    assert.ok(readdirSync(dir).filter((f) => f.startsWith('ckpt-')).length <= 2, 'old checkpoints pruned');
    await Promise.all([straight.dispose(), crashing.dispose(), resumed.dispose()]);
  });

  it('stops on a non-finite loss, naming the last good checkpoint', async () => {
    const model = await newModel();
    const dir = join(tmp.dir, 'ck-nan');
    await assert.rejects(
      fit(
        options(model, {
          train: learnable(160, 1, 80),
          shuffleBuffer: 1,
          checkpoint: { dir, everySteps: 2 },
        }),
      ),
      (e: unknown) =>
        e instanceof TrainError &&
        e.code === 'TRAIN_NON_FINITE_LOSS' &&
        /loss became NaN at epoch 1, step 6; the last good checkpoint is .*ckpt-00000004/.test(e.message),
    );
    await model.dispose();
  });

  it('rejects data smaller than one batch', async () => {
    const model = await newModel();
    await assert.rejects(fit(options(model, { train: learnable(5) })), /fewer than one batch of 16/);
    await model.dispose();
  });
});
