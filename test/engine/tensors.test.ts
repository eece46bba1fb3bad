import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EngineError, flattenTensors, scatterTensors, tensorSize } from '../../src/engine/index.js';

describe('tensor packing', () => {
  const tensors = [
    { name: 'a/kernel', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'a/bias', shape: [3], data: Float32Array.from([7, 8, 9]) },
    { name: 'b/scalar', shape: [], data: Float32Array.from([10]) },
  ];

  it('flattens named tensors end to end and scatters a buffer back into copies of them', () => {
    const flat = flattenTensors(tensors);
    assert.deepEqual([...flat], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const doubled = flat.map((x) => x * 2);
    const back = scatterTensors(doubled, tensors);
    assert.deepEqual(
      back.map((t) => [t.name, t.shape, [...t.data]]),
      [
        ['a/kernel', [2, 3], [2, 4, 6, 8, 10, 12]],
        ['a/bias', [3], [14, 16, 18]],
        ['b/scalar', [], [20]],
      ],
    );
    doubled.fill(0);
    assert.equal(back[0]?.data[0], 2, 'scattered values are copies, not views of the buffer');
    assert.equal(tensors[0]?.data[0], 1, 'the input tensors are left as they were');
  });

  it('refuses a buffer whose length is not the tensors’ combined length', () => {
    assert.throws(
      () => scatterTensors(new Float32Array(9), tensors),
      (e: unknown) =>
        e instanceof EngineError && e.code === 'ENGINE_BAD_INPUT' && /9 values.*10/.test(e.message),
    );
  });

  it('counts a scalar as one element', () => {
    assert.equal(tensorSize([]), 1);
    assert.equal(tensorSize([4, 3, 3, 32]), 1152);
  });
});
