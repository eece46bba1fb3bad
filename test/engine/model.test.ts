import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { availableParallelism } from 'node:os';
import {
  createModel,
  EngineError,
  flattenTensors,
  getNumThreads,
  setNumThreads,
  threadBudget,
} from '../../src/engine/index.js';
import { bookCnnSpec } from './book-specs.js';
import type { Model } from '../../src/engine/index.js';

const PIXELS = 28 * 28;

/** A fixed, learnable problem: class k has a bright 4x4 patch at a position that depends on k. */
function syntheticBatch(n: number, seed: number): { images: Float32Array; labels: Int32Array } {
  let s = seed;
  const rand = (): number => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const images = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    labels[i] = k;
    for (let p = 0; p < PIXELS; p++) images[i * PIXELS + p] = rand() * 0.2;
    const row = 2 + 6 * Math.floor(k / 4);
    const col = 2 + 6 * (k % 4);
    for (let y = row; y < row + 4; y++)
      for (let x = col; x < col + 4; x++) images[i * PIXELS + y * 28 + x] = 1;
  }
  return { images, labels };
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof EngineError, `expected EngineError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('model (native engine)', () => {
  const batch = syntheticBatch(32, 7);
  const models: Model[] = [];
  const make = (variant: 'base' | 'dropout' | 'batch_norm' = 'base', seed = 1): Model => {
    const m = createModel(bookCnnSpec(variant), { seed });
    models.push(m);
    return m;
  };
  before(() => setNumThreads(2));
  after(async () => {
    await Promise.all(models.map((m) => m.dispose()));
  });

  it('builds the book CNN variants with native parameter counts equal to shape inference', () => {
    assert.equal(make('base').paramCount, 93_322);
    assert.equal(make('dropout').paramCount, 93_322);
    const bn = make('batch_norm');
    assert.equal(bn.paramCount, 93_706);
    assert.equal(bn.trainableParamCount, 93_514);
  });

  it('states which tensors are trainable and lays out the parameter vector from them', async () => {
    const bn = make('batch_norm', 4);
    // Exactly the batch-norm moving statistics are frozen.
    const frozen = bn.stateSpec.filter((t) => !t.trainable).map((t) => t.name);
    assert.equal(frozen.length, 4);
    for (const t of bn.stateSpec)
      assert.equal(t.trainable, !/\/moving_(mean|variance)$/.test(t.name), `${t.name} trainable`);
    const state = await bn.getState();
    assert.deepEqual(
      bn.stateSpec.map((t) => [t.name, t.shape.join('x')]),
      state.tensors.map((t) => [t.name, t.shape.join('x')]),
    );
    assert.equal(
      bn.parameterLayout.reduce((n, t) => n + t.size, 0),
      bn.trainableParamCount,
    );
    // getParameters() is the trainable tensors end to end, in parameterLayout's order.
    const trainable = new Set(bn.parameterLayout.map((t) => t.name));
    const expected = flattenTensors(state.tensors.filter((t) => trainable.has(t.name)));
    assert.deepEqual(await bn.getParameters(), expected);
  });

  it("runs 'same'-padded strided layers and batch norm on dense features with inferred shapes", async () => {
    const m = createModel(
      {
        layers: [
          { type: 'input', shape: [8, 8, 3] },
          { type: 'conv2d', filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' },
          { type: 'maxPooling2d', poolSize: 3, strides: 2, padding: 'same' },
          { type: 'flatten' },
          { type: 'dense', units: 8 },
          { type: 'batchNormalization' },
          { type: 'activation', activation: 'relu' },
          { type: 'dropout', rate: 0.25 },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
      },
      { seed: 1 },
    );
    models.push(m);
    const images = new Float32Array(5 * 8 * 8 * 3).map((_, i) => (i % 13) / 13);
    const labels = Int32Array.of(0, 1, 2, 0, 1);
    const r = await m.trainStep(images, labels);
    assert.ok(Number.isFinite(r.loss));
    assert.equal((await m.predict(images)).length, 5 * 3);
    assert.deepEqual(
      m.summary().map((row) => row.outputShape),
      [
        [null, 4, 4, 4],
        [null, 2, 2, 4],
        [null, 16],
        [null, 8],
        [null, 8],
        [null, 8],
        [null, 8],
        [null, 3],
      ],
    );
    assert.equal(m.paramCount, 3 * 3 * 3 * 4 + 4 + 16 * 8 + 8 + 4 * 8 + 8 * 3 + 3);
  });

  it('lowers the loss over 30 training steps on a fixed synthetic problem', async () => {
    const m = make('base', 3);
    await m.setOptimizer({ type: 'adam', learningRate: 0.002 });
    const first = await m.trainStep(batch.images, batch.labels);
    let last = first;
    for (let i = 0; i < 29; i++) last = await m.trainStep(batch.images, batch.labels);
    assert.equal(last.count, 32);
    assert.ok(last.loss < first.loss * 0.5, `loss ${first.loss} -> ${last.loss}`);
    const evaluation = await m.evaluate(batch.images, batch.labels, 10);
    assert.equal(evaluation.count, 32);
    assert.ok(evaluation.accuracy > 0.8, `accuracy ${evaluation.accuracy}`);
  });

  it('initialises and trains identically from the same seed, differently from another', async () => {
    const [a, b, c] = [make('dropout', 11), make('dropout', 11), make('dropout', 12)];
    for (const m of [a, b, c]) await m.trainStep(batch.images, batch.labels);
    const [pa, pb, pc] = await Promise.all([a.getParameters(), b.getParameters(), c.getParameters()]);
    assert.deepEqual(pa, pb);
    assert.notDeepEqual(pa, pc);
  });

  it('round-trips weights and batch-norm statistics through getState/setState', async () => {
    const a = make('batch_norm', 5);
    for (let i = 0; i < 3; i++) await a.trainStep(batch.images, batch.labels);
    const state = await a.getState();
    assert.ok(state.tensors.some((t) => t.name === 'batch_normalization/moving_mean'));
    const b = make('batch_norm', 6);
    assert.notDeepEqual(await b.predict(batch.images), await a.predict(batch.images));
    await b.setState(state);
    assert.deepEqual(await b.predict(batch.images), await a.predict(batch.images));
  });

  it('resumes exactly from optimizer state: the next step matches', async () => {
    const a = make('base', 8);
    await a.setOptimizer({ type: 'adam', learningRate: 0.003, beta1: 0.8 });
    for (let i = 0; i < 3; i++) await a.trainStep(batch.images, batch.labels);
    const b = make('base', 9);
    await b.setState(await a.getState());
    const opt = await a.getOptimizerState();
    assert.deepEqual(opt.config, {
      type: 'adam',
      learningRate: 0.003,
      beta1: 0.8,
      beta2: 0.999,
      epsilon: 1e-7,
    });
    assert.equal(opt.tensors.find((t) => t.name === 'conv2d/kernel/step')?.data[0], 3);
    await b.setOptimizerState(opt);
    const [ra, rb] = [
      await a.trainStep(batch.images, batch.labels),
      await b.trainStep(batch.images, batch.labels),
    ];
    assert.equal(ra.loss, rb.loss);
    assert.deepEqual(await a.getParameters(), await b.getParameters());
  });

  it('forwardBackward + get/setGradients + applyGradients equals trainStep', async () => {
    const [a, b] = [make('base', 21), make('base', 21)];
    const ra = await a.trainStep(batch.images, batch.labels);
    const rb = await b.forwardBackward(batch.images, batch.labels);
    assert.deepEqual(ra, rb);
    const grads = await b.getGradients();
    assert.equal(grads.length, b.trainableParamCount);
    assert.ok(grads.some((g) => g !== 0));
    await b.setGradients(Float32Array.from(grads));
    await b.applyGradients();
    assert.deepEqual(await b.getParameters(), await a.getParameters());
    assert.ok(
      (await b.getGradients()).every((g) => g === 0),
      'applyGradients clears gradients',
    );
  });

  it('predicts probability rows that sum to 1', async () => {
    const probs = await make('base', 4).predict(batch.images, 7);
    assert.equal(probs.length, 32 * 10);
    for (let i = 0; i < 32; i++) {
      const sum = probs.subarray(i * 10, i * 10 + 10).reduce((x, y) => x + y, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i} sums to ${sum}`);
    }
  });

  it('keeps the event loop running while a long training step runs', async () => {
    const m = make('base', 2);
    const big = syntheticBatch(512, 3);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const started = Date.now();
    await m.trainStep(big.images, big.labels);
    const elapsed = Date.now() - started;
    clearInterval(timer);
    assert.ok(elapsed > 30, `step took only ${elapsed} ms; test needs a longer step`);
    assert.ok(ticks >= 5, `timer fired ${ticks} times during a ${elapsed} ms step`);
  });

  it('rejects bad input with EngineError instead of crashing', async () => {
    const m = make('base', 1);
    await rejectsWith(
      m.trainStep(batch.images.subarray(1), batch.labels),
      'ENGINE_BAD_INPUT',
      /expected 32 labels/,
    );
    await rejectsWith(
      m.trainStep(batch.images, Int32Array.of(1, 2, 99)),
      'ENGINE_BAD_INPUT',
      /expected 3 labels/,
    );
    const badLabels = Int32Array.from(batch.labels);
    badLabels[3] = 10;
    await rejectsWith(m.trainStep(batch.images, badLabels), 'ENGINE_BAD_INPUT', /labels\[3\] is 10/);
    const f64 = new Float64Array(PIXELS) as unknown as Float32Array;
    await rejectsWith(m.predict(f64), 'ENGINE_BAD_INPUT', /Float32Array/);
    await rejectsWith(m.setGradients(new Float32Array(5)), 'ENGINE_BAD_INPUT', /expected 93322/);
    const state = await m.getState();
    const first = state.tensors[0];
    assert.ok(first);
    await rejectsWith(
      m.setState({ tensors: [{ ...first, shape: [1] }, ...state.tensors.slice(1)] }),
      'ENGINE_BAD_INPUT',
      /conv2d\/kernel' has shape/,
    );
    await rejectsWith(
      m.setOptimizerState({
        config: { type: 'adam', learningRate: 0.001 },
        tensors: [{ name: 'x/y', shape: [1], data: new Float32Array(1) }],
      }),
      'ENGINE_BAD_INPUT',
      /does not know/,
    );
    await rejectsWith(m.setOptimizer({ type: 'sgd', learningRate: -1 }), 'ENGINE_BAD_INPUT', /learningRate/);
  });

  it('rejects calls after dispose with ENGINE_DISPOSED', async () => {
    const m = createModel(bookCnnSpec(), { seed: 1 });
    await m.dispose();
    await rejectsWith(m.predict(batch.images), 'ENGINE_DISPOSED', /disposed/);
  });

  it('sets the learning rate and thread count', async () => {
    const m = make('base', 1);
    assert.equal(m.getLearningRate(), 0.001);
    await m.setLearningRate(0.01);
    assert.equal(m.getLearningRate(), 0.01);
    setNumThreads(1);
    assert.equal(getNumThreads(), 1);
    await m.trainStep(batch.images, batch.labels);
    setNumThreads(2);
    assert.equal(getNumThreads(), 2);
  });

  it('takes its thread budget from DISTML_THREADS, else every core, and rejects a bad value', () => {
    assert.equal(threadBudget({}), availableParallelism());
    assert.equal(threadBudget({ DISTML_THREADS: '' }), availableParallelism());
    assert.equal(threadBudget({ DISTML_THREADS: '3' }), 3);
    for (const bad of ['0', '-1', '1.5', 'two']) {
      assert.throws(
        () => threadBudget({ DISTML_THREADS: bad }),
        (e: unknown) =>
          e instanceof EngineError && /DISTML_THREADS must be a positive integer/.test(e.message),
      );
    }
  });
});
