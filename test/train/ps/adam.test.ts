import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel, setNumThreads } from '../../../src/engine/index.js';
import { bookModelSpec } from '../../../src/models/index.js';
import { partitionParameters, ShardAdam } from '../../../src/train/ps/index.js';

function batch(n: number, seed: number): { images: Float32Array; labels: Int32Array } {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
  return {
    images: Float32Array.from({ length: n * 784 }, rand),
    labels: Int32Array.from({ length: n }, () => Math.floor(rand() * 10)),
  };
}

describe('Adam on a parameter shard', () => {
  for (const model of ['cnn', 'batch_norm'] as const) {
    it(`matches the engine's Adam step for the same gradients (${model}, 3 shards, 4 steps)`, async () => {
      setNumThreads(1);
      const m = createModel(bookModelSpec(model), { seed: 3 });
      try {
        // A large rate makes any formula difference visible; epsilon as Keras.
        const lr = 0.01;
        await m.setOptimizer({ type: 'adam', learningRate: lr });
        const start = await m.getParameters();
        const part = partitionParameters([{ name: 'all', size: start.length }], 3);
        const shards = part.shards.map((s) => new ShardAdam(start.slice(s.start, s.end)));
        let worst = 0;
        for (let step = 0; step < 4; step++) {
          const b = batch(16, 10 + step);
          await m.forwardBackward(b.images, b.labels);
          const grads = await m.getGradients();
          await m.applyGradients();
          const want = await m.getParameters();
          part.shards.forEach((s, k) => {
            const adam = shards[k] as ShardAdam;
            adam.apply(grads.subarray(s.start, s.end), lr);
            for (let i = 0; i < adam.params.length; i++)
              worst = Math.max(worst, Math.abs((adam.params[i] as number) - (want[s.start + i] as number)));
          });
          // Keep the engine on the shards' values so every step compares from the same point.
          const ours = new Float32Array(start.length);
          part.shards.forEach((s, k) => ours.set((shards[k] as ShardAdam).params, s.start));
          await m.setParameters(ours);
        }
        assert.ok(worst < 1e-6, `largest difference ${worst}`);
      } finally {
        await m.dispose();
      }
    });
  }
});
