import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MetadataError } from '../metadata/index.js';
import { SchedulerError } from '../scheduler/index.js';
import { WorkflowError } from '../workflow/index.js';
import { ServerError } from './errors.js';
import type { Api } from './api.js';
import { ROUTES } from './routes.js';

const NOT_FOUND_CODES = new Set(['METADATA_RUN_NOT_FOUND', 'WORKFLOW_STEP_NOT_FOUND']);
const CONFLICT_CODES = new Set(['WORKFLOW_RUN_ACTIVE', 'WORKFLOW_RUN_FINISHED', 'SCHED_CONFIG_IN_USE']);

/** The HTTP status and `{error, code}` body of a failure: 4xx for what the client can fix, 500 for our bugs. */
export function errorAnswer(err: unknown): { status: number; body: { error: string; code: string } } {
  if (err instanceof ServerError) return { status: err.status, body: { error: err.message, code: err.code } };
  if (err instanceof WorkflowError || err instanceof MetadataError || err instanceof SchedulerError) {
    const status = NOT_FOUND_CODES.has(err.code) ? 404 : CONFLICT_CODES.has(err.code) ? 409 : 400;
    return { status, body: { error: err.message, code: err.code } };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    status: 500,
    body: { error: `internal error: ${message}; the server log has more`, code: 'INTERNAL' },
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function authorized(req: IncomingMessage, secret: string): boolean {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  const given = Buffer.from(m?.[1] ?? '');
  const want = Buffer.from(secret);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** Answers one request: the secret first, then the route; every failure is `{error, code}` with a 4xx/5xx. */
export async function handle(
  api: Api,
  secret: string,
  req: IncomingMessage,
  res: ServerResponse,
  log: (line: string) => void,
): Promise<void> {
  try {
    if (!authorized(req, secret)) {
      throw new ServerError(
        'SERVER_UNAUTHORIZED',
        'missing or wrong secret: send `Authorization: Bearer SECRET`, SECRET from <workspace>/server/server.json',
        401,
      );
    }
    const url = new URL(req.url ?? '/', 'http://server');
    const routes = ROUTES.filter(([, re]) => re.test(url.pathname));
    if (routes.length === 0) {
      throw new ServerError(
        'SERVER_NOT_FOUND',
        `no endpoint ${url.pathname}; the API is under /api/v1: health, status, shutdown, queues, runs[/NAME[/stop|retry|resume|events|logs[/STEP]]]`,
        404,
      );
    }
    const route = routes.find(([method]) => method === req.method);
    if (!route) {
      const allowed = routes.map(([m]) => m).join(', ');
      res.setHeader('allow', allowed);
      throw new ServerError('SERVER_METHOD', `${req.method} ${url.pathname}: use ${allowed}`, 405);
    }
    const params = route[1].exec(url.pathname)!.slice(1);
    const out = await route[2](api, req, res, url, params);
    if (out !== undefined) sendJson(res, res.statusCode, out);
  } catch (err) {
    const { status, body } = errorAnswer(err);
    if (status >= 500) log(`${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
    if (!res.headersSent) sendJson(res, status, body);
    else res.destroy();
  }
}
