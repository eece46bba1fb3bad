import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPartition, partitionParameters, type Partition } from '../../../src/train/ps/index.js';

// The book CNN's trainable tensors, in the engine's flat order.
const CNN = [
  ['conv2d/kernel', 288],
  ['conv2d/bias', 32],
  ['conv2d_1/kernel', 18432],
  ['conv2d_1/bias', 64],
  ['conv2d_2/kernel', 36864],
  ['conv2d_2/bias', 64],
  ['dense/kernel', 36864],
  ['dense/bias', 64],
  ['dense_1/kernel', 640],
  ['dense_1/bias', 10],
].map(([name, size]) => ({ name: name as string, size: size as number }));

function assertCovers(p: Partition, total: number): void {
  checkPartition(p, total);
  for (const s of p.shards) {
    const held = s.pieces.reduce((n, x) => n + x.to - x.from, 0);
    assert.equal(held, s.end - s.start, `shard ${s.index}'s pieces add up to its range`);
  }
}

describe('parameter partition', () => {
  it('covers every parameter of the book CNN exactly once, balanced within 5%, for 1-8 servers', () => {
    for (let P = 1; P <= 8; P++) {
      const p = partitionParameters(CNN, P);
      assert.equal(p.shards.length, P);
      assertCovers(p, 93322);
      assert.ok(p.imbalance <= 1.05, `P=${P}: imbalance ${p.imbalance}`);
    }
  });

  it('cuts at tensor boundaries when one is close to the ideal cut, inside a tensor otherwise', () => {
    const even = partitionParameters(
      [100, 100, 100, 100].map((size, i) => ({ name: `t${i}`, size })),
      2,
    );
    assert.deepEqual(
      even.shards.map((s) => [s.start, s.end]),
      [
        [0, 200],
        [200, 400],
      ],
    );
    assert.deepEqual(even.splitTensors, []);
    const two = partitionParameters(CNN, 2);
    assert.deepEqual(
      two.splitTensors,
      ['conv2d_2/kernel'],
      'the nearest boundary is 19% off: split the kernel',
    );
    assert.equal(two.imbalance, 1);
  });

  it('refuses more servers than parameters, and partitions that do not cover the model', () => {
    assert.throws(
      () => partitionParameters([{ name: 'w', size: 3 }], 4),
      /4 parameter servers for 3 parameters/,
    );
    assert.throws(() => partitionParameters(CNN, 0), /positive integer/);
    const p = partitionParameters(CNN, 2);
    assert.throws(() => checkPartition(p, 93323), /covers 93322 parameters but the model has 93323/);
    assert.throws(
      () =>
        checkPartition(
          {
            shards: [
              { index: 0, start: 0, end: 5, pieces: [] },
              { index: 1, start: 6, end: 10, pieces: [] },
            ],
          },
          10,
        ),
      /not contiguous/,
    );
  });
});
