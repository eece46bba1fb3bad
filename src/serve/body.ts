// The one request-body reader of distml's HTTP servers: the model server and the gateway read bodies with the
// same limit, the same early 413 and the same handling of a client that leaves mid-body, so a body the
// gateway accepts is one a replica accepts too; the control plane (src/server) reads its bodies with it too,
// answering with its own errors.
import type { IncomingMessage } from 'node:http';
import { ServeError } from './errors.js';

/** 8 MiB: the default --max-body of the model server and the gateway. */
export const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

/** The errors a body reader rejects with: the caller's own, so its HTTP layer maps them as usual. */
export interface BodyErrors {
  /** The body is larger than `limit` bytes (a 413). */
  tooLarge(limit: number): Error;
  /** The client left before the body ended. */
  clientGone(): Error;
}

/** The model server's and the gateway's. */
const SERVE_BODY_ERRORS: BodyErrors = {
  tooLarge: (limit) =>
    new ServeError(
      'SERVE_TOO_LARGE',
      `request body is larger than the limit of ${limit} bytes (--max-body); send fewer examples per request or raise --max-body`,
    ),
  clientGone: () =>
    new ServeError('SERVE_CLIENT_GONE', 'the client closed the connection before the body ended'),
};

/**
 * Reads a request body of at most `limit` bytes; a larger one is a 413 (at once when Content-Length says so).
 * The excess is read and dropped (up to a hard cap) before answering, so a client still sending its body
 * gets the 413 instead of a reset socket.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  errors: BodyErrors = SERVE_BODY_ERRORS,
): Promise<Buffer> {
  const tooLarge = () => errors.tooLarge(limit);
  const hardCap = Math.max(64 * 1024 * 1024, 4 * limit);
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let over = Number(req.headers['content-length']) > limit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (over) {
        parts.length = 0;
        if (size > hardCap) {
          req.pause();
          reject(tooLarge());
        }
        return;
      }
      parts.push(chunk);
    });
    req.on('end', () => (over ? reject(tooLarge()) : resolve(Buffer.concat(parts))));
    req.on('error', reject);
    // A client that goes away mid-body never sends 'end': settle so the request is not counted in flight forever.
    req.on('close', () => {
      if (!req.complete) reject(errors.clientGone());
    });
  });
}

/**
 * True when a request came with a body that was not read to its end (e.g. refused with a 413 or 503 first):
 * its connection must close, since the rest of that body would be read as the next request. A request
 * without a body is complete as soon as its headers are, even if `req.complete` is not yet set.
 */
export function bodyLeftUnread(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  return hasBody && !req.complete;
}
