// The control plane's request-body reader: a JSON object of at most `limit` bytes, refused early when
// Content-Length says it is larger, so a client never makes the server hold more than the limit.
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { ServerError } from './errors.js';

/** 4 MiB: a workflow's YAML with its parameters fits many times over. */
export const MAX_BODY = 4 * 1024 * 1024;

/** Reads the request body as bytes; larger than `limit` is a 413 (the rest is read and dropped, up to 4× it). */
export function readBody(req: IncomingMessage, limit = MAX_BODY): Promise<Buffer> {
  const tooLarge = () =>
    new ServerError(
      'SERVER_TOO_LARGE',
      `request body is larger than the limit of ${limit} bytes; send a smaller workflow`,
      413,
    );
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let over = Number(req.headers['content-length']) > limit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      over ||= size > limit;
      if (!over) parts.push(chunk);
      else if (size > 4 * limit) {
        req.pause();
        reject(tooLarge());
      }
    });
    req.on('end', () => (over ? reject(tooLarge()) : resolve(Buffer.concat(parts))));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new ServerError('SERVER_BAD_REQUEST', 'the client left mid-body'));
    });
  });
}

/** Reads a JSON object body; an empty body is `{}`. Anything else is a 400 saying what was wrong. */
export async function readJsonObject(
  req: IncomingMessage,
  limit = MAX_BODY,
): Promise<Record<string, unknown>> {
  const raw = (await readBody(req, limit)).toString('utf8');
  if (raw.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new ServerError(
      'SERVER_BAD_REQUEST',
      `request body is not valid JSON (${(err as Error).message}); send a JSON object`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ServerError('SERVER_BAD_REQUEST', 'request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** Reads a JSON object body and parses it with a zod schema; the first problem is a 400 naming its field. */
export async function parseBody<S extends z.ZodTypeAny>(
  req: IncomingMessage,
  schema: S,
): Promise<z.infer<S>> {
  const r = schema.safeParse(await readJsonObject(req));
  if (r.success) return r.data as z.infer<S>;
  const issue = r.error.issues[0]!;
  const where = ['body', ...issue.path].join('.');
  const what = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message;
  throw new ServerError('SERVER_BAD_REQUEST', `${where}: ${what}`);
}
