import { ModelError } from './errors.js';

/** safetensors dtypes we read and write, with their element sizes. */
const DTYPE_BYTES = { F32: 4, F64: 8, I64: 8, I32: 4, U8: 1 } as const;
export type SafeDtype = keyof typeof DTYPE_BYTES;

export interface SafeTensor {
  name: string;
  dtype: SafeDtype;
  shape: number[];
  /** Raw little-endian bytes. */
  data: Uint8Array;
}

const MAX_HEADER = 100 * 1024 * 1024;

/**
 * Encodes tensors in the safetensors format (huggingface/safetensors): u64 little-endian header length, a JSON
 * header of {name: {dtype, shape, data_offsets}} plus string `__metadata__`, padded with spaces to 8 bytes,
 * then the tensors' bytes back to back.
 */
export function encodeSafetensors(tensors: SafeTensor[], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header['__metadata__'] = metadata;
  let offset = 0;
  for (const t of tensors) {
    const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (expected !== t.data.byteLength) {
      throw new ModelError(
        'MODEL_BAD_PACKAGE',
        `tensor ${t.name}: shape [${t.shape}] needs ${expected} bytes, got ${t.data.byteLength}`,
      );
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([
    head,
    Buffer.from(json),
    ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
  ]);
}

/** Decodes and fully validates a safetensors buffer; `file` names it in errors. */
export function decodeSafetensors(
  buf: Buffer,
  file: string,
): { tensors: SafeTensor[]; metadata: Record<string, string> } {
  const bad = (why: string) =>
    new ModelError('MODEL_BAD_PACKAGE', `${file}: not a valid safetensors file: ${why}`);
  if (buf.length < 8) throw bad(`${buf.length} bytes is shorter than the 8-byte header length`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n > MAX_HEADER || 8 + n > buf.length)
    throw bad(`header length ${n} does not fit in ${buf.length} bytes`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw bad(`header is not JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw bad('header is not an object');
  const data = buf.subarray(8 + n);
  const metadata = (header['__metadata__'] ?? {}) as Record<string, string>;
  const tensors: SafeTensor[] = [];
  const spans: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = v as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES))
      throw bad(`tensor ${name}: unsupported dtype ${String(e?.dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      throw bad(`tensor ${name}: bad shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0)) {
      throw bad(`tensor ${name}: bad data_offsets`);
    }
    const [b, end] = off as [number, number];
    const size = (shape as number[]).reduce((a, d) => a * d, 1) * DTYPE_BYTES[e.dtype as SafeDtype];
    if (end < b || end - b !== size)
      throw bad(`tensor ${name}: offsets [${b}, ${end}] do not match shape [${shape}] (${size} bytes)`);
    if (end > data.length)
      throw bad(`tensor ${name}: data ends at ${end}, past the ${data.length} bytes present (truncated?)`);
    spans.push([b, end, name]);
    // Copy into an aligned buffer so typed-array views are always legal.
    tensors.push({
      name,
      dtype: e.dtype as SafeDtype,
      shape: shape as number[],
      data: new Uint8Array(data.subarray(b, end)),
    });
  }
  spans.sort((x, y) => x[0] - y[0]);
  let pos = 0;
  for (const [b, end, name] of spans) {
    if (b !== pos) throw bad(`tensor ${name}: data starts at ${b}, expected ${pos} (gap or overlap)`);
    pos = end;
  }
  if (pos !== data.length) throw bad(`${data.length - pos} bytes after the last tensor`);
  return { tensors, metadata };
}

/** A float32 tensor as safetensors bytes. */
export function f32Tensor(name: string, shape: number[], values: Float32Array): SafeTensor {
  return {
    name,
    dtype: 'F32',
    shape,
    data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  };
}

/** Reads an F32 tensor's values. */
export function f32Values(t: SafeTensor): Float32Array {
  if (t.dtype !== 'F32')
    throw new ModelError('MODEL_BAD_PACKAGE', `tensor ${t.name}: expected F32, found ${t.dtype}`);
  return new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
}
