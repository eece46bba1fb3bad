import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeSafetensors,
  encodeSafetensors,
  f32Tensor,
  f32Values,
  ModelError,
} from '../../src/models/index.js';

describe('safetensors', () => {
  const a = f32Tensor('a', [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
  const b = f32Tensor('b.bias', [3], Float32Array.from([-1, 0.5, 7]));

  it('round-trips tensors and metadata, with an 8-byte aligned header', () => {
    const buf = encodeSafetensors([a, b], { producer: 'test' });
    const n = Number(buf.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString()) as Record<
      string,
      { data_offsets: number[] }
    >;
    assert.deepEqual(header['b.bias']?.data_offsets, [24, 36]);
    const { tensors, metadata } = decodeSafetensors(buf, 'x.safetensors');
    assert.deepEqual(metadata, { producer: 'test' });
    assert.deepEqual(Array.from(f32Values(tensors[0]!)), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(tensors[1]?.shape, [3]);
    assert.deepEqual(Array.from(f32Values(tensors[1]!)), [-1, 0.5, 7]);
  });

  it('rejects damaged files with a message naming the file and the problem', () => {
    const good = encodeSafetensors([a, b]);
    const cases: [Buffer, RegExp][] = [
      [good.subarray(0, 4), /shorter than the 8-byte header length/],
      [good.subarray(0, good.length - 4), /past the \d+ bytes present \(truncated\?\)/],
      [Buffer.concat([good, Buffer.alloc(4)]), /4 bytes after the last tensor/],
    ];
    const badJson = Buffer.from(good);
    badJson.write('{', 8 + 3);
    cases.push([badJson, /header is not JSON/]);
    for (const [buf, pattern] of cases) {
      assert.throws(
        () => decodeSafetensors(buf, 'w.safetensors'),
        (e: unknown) =>
          e instanceof ModelError &&
          e.code === 'MODEL_BAD_PACKAGE' &&
          /w\.safetensors/.test(e.message) &&
          pattern.test(e.message),
      );
    }
  });

  it('rejects overlapping tensors and shape/offset mismatches', () => {
    const mk = (header: object, dataBytes: number) => {
      const json = Buffer.from(JSON.stringify(header));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([len, json, Buffer.alloc(dataBytes)]);
    };
    assert.throws(
      () =>
        decodeSafetensors(
          mk(
            {
              x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
              y: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
            },
            12,
          ),
          'o',
        ),
      /gap or overlap/,
    );
    assert.throws(
      () => decodeSafetensors(mk({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), 'o'),
      /do not match shape/,
    );
    assert.throws(
      () => decodeSafetensors(mk({ x: { dtype: 'Q7', shape: [1], data_offsets: [0, 1] } }, 1), 'o'),
      /unsupported dtype/,
    );
  });

  it('refuses to encode data that does not match its shape', () => {
    assert.throws(
      () => encodeSafetensors([f32Tensor('z', [4], new Float32Array(3))]),
      /needs 16 bytes, got 12/,
    );
  });
});
