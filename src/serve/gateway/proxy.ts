// Forwarding one buffered request to a replica of a pool. Predictions are idempotent, so a request that fails
// on the connection (the replica died, was stopped, or closed a kept-alive socket) is sent again to another
// ready replica; HTTP answers from a replica, errors included, are passed back as they are.
import { Agent, request } from 'node:http';
import { ServeError } from '../errors.js';
import type { ReplicaPool } from './pool.js';

export interface Forward {
  method: string;
  path: string;
  body?: Buffer;
  contentType?: string;
  /** Balancer affinity key (consistent-hash). */
  key: string;
  /** Aborts when the client has gone: the replica's request is cancelled (its queued work is dropped there). */
  signal?: AbortSignal;
}

export interface Upstream {
  status: number;
  contentType: string;
  body: Buffer;
  /** The replica's Retry-After header (a 503 from a full queue). */
  retryAfter?: string;
  /** Which replica answered, and how many attempts it took. */
  replica: number;
  attempts: number;
}

export interface ProxyOptions {
  /** Most attempts per request (connection failures only). Default 4. */
  attempts?: number;
  /** Longest one attempt may take. Default 60 s. */
  timeoutMs?: number;
  onRetry?: (model: string, error: string) => void;
  /** Connection pool to the replicas (kept alive); the gateway owns it. */
  agent?: Agent;
}

/** A keep-alive connection pool for talking to replicas. */
export function replicaAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 1000 });
}

/** Sends `f` to a ready replica of `pool`, retrying connection failures on other replicas. */
export async function forward(pool: ReplicaPool, f: Forward, opts: ProxyOptions = {}): Promise<Upstream> {
  const attempts = opts.attempts ?? 4;
  const tried = new Set<number>();
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    f.signal?.throwIfAborted();
    const r = await pool.acquire(f.key, tried);
    tried.add(r.id);
    try {
      const res = await send(r.url, f, opts.timeoutMs ?? 60_000, opts.agent);
      // A draining replica answers 503 to new work: another replica can take it.
      if (res.status === 503 && attempt < attempts && r.state !== 'ready') {
        pool.release(r, true);
        continue;
      }
      pool.release(r, true);
      return { ...res, replica: r.id, attempts: attempt };
    } catch (err) {
      // A client that has gone is not the replica's failure, and is not retried.
      pool.release(r, f.signal?.aborted === true);
      f.signal?.throwIfAborted();
      last = (err as Error).message;
      if (err instanceof ServeError) throw err;
      opts.onRetry?.(pool.model, last);
    }
  }
  throw new ServeError(
    'SERVE_BAD_GATEWAY',
    `no replica of "${pool.model}" answered after ${attempts} attempts (last error: ${last})`,
  );
}

function send(
  base: string,
  f: Forward,
  timeoutMs: number,
  agent: Agent | undefined,
): Promise<Omit<Upstream, 'replica' | 'attempts'>> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (f.body) {
      headers['content-type'] = f.contentType ?? 'application/json';
      headers['content-length'] = f.body.length;
    }
    const req = request(`${base}${f.path}`, { method: f.method, headers, agent, signal: f.signal }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 502,
          contentType: res.headers['content-type'] ?? 'application/json',
          body: Buffer.concat(parts),
          retryAfter: res.headers['retry-after'],
        }),
      );
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('the replica closed the connection mid-answer')));
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(
        new ServeError('SERVE_GATEWAY_TIMEOUT', `the replica did not answer within ${timeoutMs} ms`),
      ),
    );
    req.on('error', reject);
    req.end(f.body);
  });
}
