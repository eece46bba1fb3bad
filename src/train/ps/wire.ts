// The parameter-server wire protocol: length-prefixed binary frames over TCP.
//
//   frame   = u32 LE bodyLength | body
//   body    = u8 kind | u32 LE headerLength | header (UTF-8 JSON) | payload (float32 LE values)
//
// Requests and replies on one connection are answered in order (a server handles a connection's frames
// one at a time), so a client matches replies to requests by position.
import { endianness } from 'node:os';

export const Kind = {
  /** worker → server: {worker, workers, epochExamples, totalExamples, shard: {index, start, end}} */
  hello: 1,
  /** server → worker: {index, start, end, version} */
  welcome: 2,
  /** worker → server: {clock} — the pushes this worker has made; blocks under a staleness bound */
  pull: 3,
  /** server → worker: {version, examples, done} + the shard's parameters */
  params: 4,
  /** worker → server: {clock, pulledVersion, count, loss, correct} + the shard's gradients; no reply */
  push: 5,
  /** any → server: {} */
  stats: 6,
  /** server → any: the server's ServerStats */
  statsReply: 7,
  /** either way: {message}; the sender closes the connection */
  error: 8,
  /** launcher → server: {} — answer statsReply, then stop */
  shutdown: 9,
  /** any → server: {secret} — the first frame of every connection; without it the server refuses */
  auth: 10,
  /** server → worker: {} — a pull is held back under the staleness bound (the server is alive) */
  holding: 11,
} as const;
export type KindCode = (typeof Kind)[keyof typeof Kind];

/** One decoded frame; `payload` views the received bytes (copy out before the next read). */
export interface Frame {
  kind: number;
  header: Record<string, unknown>;
  payload: Buffer;
}

if (endianness() !== 'LE') throw new Error('the parameter-server protocol needs a little-endian host');

/** Encodes a frame; the payload's bytes are copied, so the caller may change it right after. */
export function encodeFrame(kind: KindCode, header: object, payload?: Float32Array): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const p = payload ? payload.byteLength : 0;
  const frame = Buffer.allocUnsafe(4 + 1 + 4 + h.length + p);
  frame.writeUInt32LE(1 + 4 + h.length + p, 0);
  frame.writeUInt8(kind, 4);
  frame.writeUInt32LE(h.length, 5);
  h.copy(frame, 9);
  if (payload) Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).copy(frame, 9 + h.length);
  return frame;
}

/** Frames larger than this are refused (a corrupt length must not make us allocate gigabytes). */
export const MAX_FRAME_BYTES = 1 << 30;

/** Reassembles frames from a byte stream, whatever its chunking. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Bytes received and not yet part of a complete frame. */
  get pending(): number {
    return this.buffered;
  }

  /** Adds received bytes and returns the frames they complete. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const length = head.readUInt32LE(0);
      if (length < 5 || length > MAX_FRAME_BYTES) throw new Error(`bad frame length ${length}`);
      if (this.buffered < 4 + length) break;
      const body = this.take(4 + length).subarray(4);
      const headerLength = body.readUInt32LE(1);
      if (5 + headerLength > body.length) throw new Error('frame header overruns the frame');
      const header = JSON.parse(body.subarray(5, 5 + headerLength).toString('utf8')) as Record<
        string,
        unknown
      >;
      frames.push({ kind: body.readUInt8(0), header, payload: body.subarray(5 + headerLength) });
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if ((this.chunks[0] as Buffer).length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] as Buffer;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered -= n;
    return out;
  }
}

/** Copies a frame's float32 payload into `dest` at element `offset` (payloads may be unaligned). */
export function readFloats(payload: Buffer, dest: Float32Array, offset = 0): void {
  if (payload.length % 4 !== 0) throw new Error(`payload of ${payload.length} bytes is not float32s`);
  new Uint8Array(dest.buffer, dest.byteOffset + offset * 4, payload.length).set(payload);
}
