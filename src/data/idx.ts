import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { DataError } from './errors.js';

/** IDX element types (third byte of the magic number), as in LeCun's MNIST format. */
const DTYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: 'ubyte', bytes: 1 },
  0x09: { name: 'sbyte', bytes: 1 },
  0x0b: { name: 'short', bytes: 2 },
  0x0c: { name: 'int', bytes: 4 },
  0x0d: { name: 'float', bytes: 4 },
  0x0e: { name: 'double', bytes: 8 },
};

export interface IdxHeader {
  /** Element type name: ubyte, sbyte, short, int, float or double. */
  dtype: string;
  elementBytes: number;
  /** Dimensions; dims[0] is the record count. */
  dims: number[];
  /** Bytes taken by magic + dimensions. */
  headerBytes: number;
  /** Bytes of one record (product of dims[1..] × element size). */
  recordBytes: number;
}

/** What a caller expects of a file, checked as soon as the header is read. */
export interface IdxExpectation {
  dtype?: string;
  /** Expected dims after the record count, e.g. [28, 28] for images, [] for labels. */
  recordDims?: number[];
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Parses and validates an IDX header; `buf` must hold at least the header bytes or DATA_TRUNCATED is thrown. */
export function parseIdxHeader(buf: Uint8Array, file: string, expect: IdxExpectation = {}): IdxHeader {
  if (buf.length < 4) throw truncated(file, `the header needs 4 bytes, the file has ${buf.length}`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    const hint =
      buf[0] === GZIP_MAGIC[0] && buf[1] === GZIP_MAGIC[1] ? ' (it looks gzip-compressed twice)' : '';
    throw new DataError(
      'DATA_BAD_MAGIC',
      `${file}: not an IDX file: magic number starts with 0x${hex(buf[0])}${hex(buf[1])}, expected 0x0000${hint}; use the original Fashion-MNIST files (gzip or raw)`,
    );
  }
  const dtype = DTYPES[buf[2] ?? -1];
  if (!dtype)
    throw new DataError(
      'DATA_BAD_MAGIC',
      `${file}: unknown IDX element type 0x${hex(buf[2])} in the magic number`,
    );
  const ndims = buf[3] ?? 0;
  if (ndims < 1)
    throw new DataError(
      'DATA_BAD_HEADER',
      `${file}: IDX header declares ${ndims} dimensions, need at least 1`,
    );
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes)
    throw truncated(file, `the header needs ${headerBytes} bytes, the file has ${buf.length}`);
  const view = new DataView(buf.buffer, buf.byteOffset, headerBytes);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const header: IdxHeader = {
    dtype: dtype.name,
    elementBytes: dtype.bytes,
    dims,
    headerBytes,
    recordBytes: dims.slice(1).reduce((a, b) => a * b, 1) * dtype.bytes,
  };
  checkExpectation(header, file, expect);
  return header;
}

function checkExpectation(h: IdxHeader, file: string, expect: IdxExpectation): void {
  if (expect.dtype && h.dtype !== expect.dtype) {
    throw new DataError('DATA_BAD_HEADER', `${file}: element type is ${h.dtype}, expected ${expect.dtype}`);
  }
  if (expect.recordDims) {
    const got = h.dims.slice(1);
    if (got.length !== expect.recordDims.length || got.some((d, i) => d !== expect.recordDims?.[i])) {
      throw new DataError(
        'DATA_BAD_HEADER',
        `${file}: record shape is [${got.join(', ')}], expected [${expect.recordDims.join(', ')}]`,
      );
    }
  }
}

/** True when the file starts with the gzip magic bytes. */
export async function isGzip(file: string): Promise<boolean> {
  const fh = await openOrThrow(file);
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === GZIP_MAGIC[0] && buffer[1] === GZIP_MAGIC[1];
  } finally {
    await fh.close();
  }
}

/** Streams the decompressed bytes of a raw or gzip IDX file in large chunks. */
async function* rawChunks(file: string): AsyncGenerator<Buffer> {
  const gz = await isGzip(file);
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  const source = gz ? stream.pipe(createGunzip({ chunkSize: 1 << 20 })) : stream;
  try {
    for await (const chunk of source) yield chunk as Buffer;
  } catch (err) {
    const msg = (err as Error).message;
    if (/unexpected end of file/i.test(msg)) throw truncated(file, 'the gzip stream ends early');
    throw new DataError(
      'DATA_TRUNCATED',
      `${file}: cannot decompress: ${msg}; the file is damaged, fetch it again`,
    );
  } finally {
    stream.destroy();
    if (source !== stream) source.destroy();
  }
}

export interface IdxStream {
  header: IdxHeader;
  /** Record payloads in file order, a chunk at a time; each is a view that stays valid (buffers are never reused). */
  records: AsyncGenerator<Uint8Array[]>;
}

/**
 * Opens an IDX file (raw or gzip) and returns its validated header and a lazy stream of records.
 * Memory stays bounded by the chunk size. A file shorter than its header promises fails with DATA_TRUNCATED
 * naming the file; bytes after the last record fail with DATA_TRAILING_BYTES.
 */
export async function openIdx(file: string, expect: IdxExpectation = {}): Promise<IdxStream> {
  const chunks = rawChunks(file);
  let pending: Buffer = Buffer.alloc(0);
  let header: IdxHeader | undefined;
  while (!header) {
    const next = await chunks.next();
    if (next.done) {
      parseIdxHeader(pending, file, expect); // throws the precise truncation error
      break;
    }
    pending = pending.length ? Buffer.concat([pending, next.value]) : next.value;
    if (pending.length >= 4 && pending.length >= 4 + 4 * (pending[3] ?? 0))
      header = parseIdxHeader(pending, file, expect);
  }
  if (!header) throw truncated(file, 'no header');
  const h = header;
  return { header: h, records: records(file, h, pending.subarray(h.headerBytes), chunks) };
}

async function* records(
  file: string,
  h: IdxHeader,
  first: Buffer,
  chunks: AsyncGenerator<Buffer>,
): AsyncGenerator<Uint8Array[]> {
  const total = h.dims[0] ?? 0;
  const size = h.recordBytes;
  let emitted = 0;
  let carry: Buffer = first;
  let done = false;
  try {
    for (;;) {
      let off = 0;
      const out: Uint8Array[] = [];
      while (emitted < total && carry.length - off >= size) {
        out.push(carry.subarray(off, off + size));
        off += size;
        emitted++;
      }
      if (out.length) yield out;
      carry = carry.subarray(off);
      if (emitted === total && carry.length > 0) {
        throw new DataError(
          'DATA_TRAILING_BYTES',
          `${file}: ${carry.length}+ bytes follow the last of ${total} records; the header count is wrong or files were concatenated`,
        );
      }
      if (done) break;
      const next = await chunks.next();
      if (next.done) {
        done = true;
        if (emitted < total) {
          throw truncated(
            file,
            `the header promises ${total} records of ${size} bytes, found ${emitted} whole records`,
          );
        }
        break;
      }
      carry = carry.length ? Buffer.concat([carry, next.value]) : next.value;
    }
  } finally {
    await chunks.return(undefined);
  }
}

/** Reads a whole IDX file (for small files such as labels). */
export async function readIdx(
  file: string,
  expect: IdxExpectation = {},
): Promise<{ header: IdxHeader; data: Uint8Array }> {
  const { header, records: recs } = await openIdx(file, expect);
  const data = new Uint8Array((header.dims[0] ?? 0) * header.recordBytes);
  let off = 0;
  for await (const chunk of recs) {
    for (const r of chunk) {
      data.set(r, off);
      off += r.length;
    }
  }
  return { header, data };
}

/** Encodes an IDX file (raw, uncompressed) — used to write fixtures and exports. */
export function encodeIdx(dtypeCode: 0x08, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = dtypeCode;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

async function openOrThrow(file: string) {
  try {
    return await open(file, 'r');
  } catch (err) {
    throw new DataError('DATA_NOT_FOUND', `${file}: cannot open: ${(err as Error).message}`);
  }
}

/** Size of a file in bytes, or a DATA_NOT_FOUND error naming it. */
export async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    throw new DataError('DATA_NOT_FOUND', `${file}: no such file`);
  }
}

function truncated(file: string, detail: string): DataError {
  return new DataError(
    'DATA_TRUNCATED',
    `${file}: truncated: ${detail}; the file is incomplete, fetch it again`,
  );
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}
