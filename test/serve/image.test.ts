import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageToInput } from '../../src/serve/index.js';
import { encodeJpeg, encodePng } from './fixtures.js';

function decode(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(784);
  imageToInput(bytes, out, 0);
  return out;
}

describe('image bytes to model input', () => {
  it('keeps a 28x28 PNG exactly (pixel / 255)', () => {
    const gray = Uint8Array.from({ length: 784 }, (_, i) => i % 256);
    const x = decode(encodePng(gray));
    x.forEach((v, i) => assert.equal(v, Math.fround((i % 256) / 255)));
  });

  it('halves a 56x56 image by averaging 2x2 blocks, as tf.image.resize bilinear does', () => {
    const gray = Uint8Array.from({ length: 56 * 56 }, (_, i) => (i % 2 === 0 ? 100 : 201));
    const x = decode(encodePng(gray, 56, 56));
    // (100 + 201) / 2 = 150.5, truncated to 150 by the uint8 cast of Listing 9.20.
    for (const v of x) assert.equal(v, Math.fround(150 / 255));
  });

  it('decodes a JPEG close to its pixels', () => {
    const gray = new Uint8Array(784).fill(90);
    for (const v of decode(encodeJpeg(gray, 28, 28, 100))) assert.ok(Math.abs(v * 255 - 90) <= 2);
  });

  it('rejects bytes that are not an image, a truncated PNG and an oversized one', () => {
    assert.throws(() => decode(Buffer.from('GIF89a....')), /not a JPEG or PNG/);
    const png = encodePng(new Uint8Array(784));
    assert.throws(() => decode(png.subarray(0, 40)), /PNG/);
    const huge = Buffer.from(png);
    huge.writeUInt32BE(100_000, 16);
    assert.throws(() => decode(huge), /each side must be/);
  });
});
