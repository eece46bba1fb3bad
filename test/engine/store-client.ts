// A raw TCP client of the rendezvous store protocol, for tests that play an intruder.
import { connect } from 'node:net';
import { decodeStoreBody, encodeStoreFrame, StoreOp } from '../../src/engine/index.js';

/** What an intruder tried, and what came back before the server closed the connection. */
export interface RawReply {
  code: number;
  message: string;
}

/**
 * Connects to host:port, sends `frames` (code and fields) in one write, and resolves with every reply frame
 * once the server closes the connection (or after `timeoutMs`, which is then a failure of the caller's test).
 */
export function rawExchange(
  port: number,
  frames: [number, string[]][],
  timeoutMs = 30_000,
): Promise<RawReply[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the store kept the connection open for ${timeoutMs / 1000} s`));
    }, timeoutMs);
    let buf = Buffer.alloc(0);
    const replies: RawReply[] = [];
    socket.on('connect', () => socket.write(Buffer.concat(frames.map(([c, f]) => encodeStoreFrame(c, f)))));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
        const body = decodeStoreBody(buf.subarray(4, 4 + buf.readUInt32LE(0)));
        replies.push({ code: body.code, message: body.fields[0]?.toString('utf8') ?? '' });
        buf = buf.subarray(4 + buf.readUInt32LE(0));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(replies);
    });
  });
}

/** The elastic protocol's writes an intruder would try: abort the job, join it, publish a result. */
export const INTRUSIONS: [number, string[]][] = [
  [StoreOp.set, ['elastic/abort', 'intruder']],
  [StoreOp.add, ['elastic/joins', '1']],
  [StoreOp.set, ['elastic/join/1', 'intruder']],
  [StoreOp.set, ['elastic/done', '{"intruder":true}']],
];
