// The control plane's request bodies: a JSON object of at most `limit` bytes, read by the one body reader of
// distml's HTTP servers (serve's readBody: refused early when Content-Length says it is larger, so a client
// never makes the server hold more than the limit), answered with the control plane's own errors.
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { readBody, type BodyErrors } from '../serve/index.js';
import { ServerError } from './errors.js';

/** 4 MiB: a workflow's YAML with its parameters fits many times over. */
export const MAX_BODY = 4 * 1024 * 1024;

/** The control plane's answers to a body that is too large, or cut short. */
const BODY_ERRORS: BodyErrors = {
  tooLarge: (limit) =>
    new ServerError(
      'SERVER_TOO_LARGE',
      `request body is larger than the limit of ${limit} bytes; send a smaller workflow or queue file`,
      413,
    ),
  clientGone: () => new ServerError('SERVER_BAD_REQUEST', 'the client left mid-body'),
};

/** Reads a JSON object body; an empty body is `{}`. Anything else is a 400 saying what was wrong. */
export async function readJsonObject(
  req: IncomingMessage,
  limit = MAX_BODY,
): Promise<Record<string, unknown>> {
  const raw = (await readBody(req, limit, BODY_ERRORS)).toString('utf8');
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
