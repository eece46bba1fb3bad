import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EngineError, inspectModelSpec } from '../../src/engine/index.js';
import { bookCnnSpec } from './book-specs.js';

function specError(spec: unknown): EngineError {
  try {
    inspectModelSpec(spec);
  } catch (error) {
    assert.ok(error instanceof EngineError);
    assert.equal(error.code, 'ENGINE_BAD_SPEC');
    return error;
  }
  assert.fail('spec was accepted');
}

describe('model spec', () => {
  it("counts the book CNN's 93,322 parameters with Keras names and shapes", () => {
    const info = inspectModelSpec(bookCnnSpec());
    assert.equal(info.paramCount, 93_322);
    assert.equal(info.trainableParamCount, 93_322);
    assert.deepEqual(
      info.rows.map((r) => [r.name, r.type, r.outputShape, r.params]),
      [
        ['conv2d', 'Conv2D', [null, 26, 26, 32], 320],
        ['max_pooling2d', 'MaxPooling2D', [null, 13, 13, 32], 0],
        ['conv2d_1', 'Conv2D', [null, 11, 11, 64], 18_496],
        ['max_pooling2d_1', 'MaxPooling2D', [null, 5, 5, 64], 0],
        ['conv2d_2', 'Conv2D', [null, 3, 3, 64], 36_928],
        ['flatten', 'Flatten', [null, 576], 0],
        ['dense', 'Dense', [null, 64], 36_928],
        ['dense_1', 'Dense', [null, 10], 650],
      ],
    );
  });

  it('counts the dropout and batch-norm variants like Keras (moving statistics are non-trainable)', () => {
    assert.equal(inspectModelSpec(bookCnnSpec('dropout')).paramCount, 93_322);
    const bn = inspectModelSpec(bookCnnSpec('batch_norm'));
    assert.equal(bn.paramCount, 93_322 + 4 * 32 + 4 * 64);
    assert.equal(bn.trainableParamCount, 93_322 + 2 * 32 + 2 * 64);
    assert.deepEqual(
      bn.rows.slice(0, 3).map((r) => r.name),
      ['conv2d', 'batch_normalization', 'activation'],
    );
  });

  it("infers Keras 'same' padding shapes, including strided and odd sizes", () => {
    const info = inspectModelSpec({
      layers: [
        { type: 'input', shape: [7, 7, 3] },
        { type: 'conv2d', filters: 4, kernelSize: [3, 3], strides: 2, padding: 'same' },
        { type: 'maxPooling2d', padding: 'same' },
        { type: 'flatten' },
        { type: 'dense', units: 2 },
      ],
    });
    assert.deepEqual(
      info.rows.map((r) => r.outputShape),
      [
        [null, 4, 4, 4],
        [null, 2, 2, 4],
        [null, 16],
        [null, 2],
      ],
    );
  });

  it('names the offending field in validation errors', () => {
    const spec = bookCnnSpec();
    const layers: unknown[] = [...spec.layers];
    layers[2] = { type: 'conv2d', filters: -3, kernelSize: 3 };
    assert.equal(specError({ layers }).message, 'layers[2].filters must be a positive integer (got -3)');
    layers[2] = { type: 'conv2d', filters: 3, kernelSize: 3, activation: 'gelu' };
    assert.match(
      specError({ layers }).message,
      /^layers\[2\]\.activation must be one of relu, .* \(got "gelu"\)$/,
    );
    assert.match(
      specError({ layers: [{ type: 'dense', units: 3 }] }).message,
      /^layers\[0\]\.type must be 'input'/,
    );
    assert.match(
      specError({ layers: [{ type: 'input', shape: [4] }, { type: 'dropout' }] }).message,
      /layers\[1\]\.rate/,
    );
    assert.match(specError({}).message, /^spec\.layers must be an array/);
  });

  it('rejects shapes that do not fit: dense before flatten, windows larger than the input, image outputs', () => {
    const input = { type: 'input', shape: [4, 4, 1] };
    assert.match(specError({ layers: [input, { type: 'dense', units: 2 }] }).message, /layers\[1\].*flatten/);
    assert.match(
      specError({ layers: [input, { type: 'conv2d', filters: 1, kernelSize: 5 }] }).message,
      /layers\[1\] window 5 does not fit input size 4/,
    );
    assert.match(
      specError({ layers: [input, { type: 'conv2d', filters: 1, kernelSize: 3 }] }).message,
      /layers\[1\] must output a vector of class scores/,
    );
  });
});
