// The model server process's HTTP side: plain node:http, bounded bodies, one JSON error shape, metrics, and a
// graceful stop (stop accepting, answer what is in flight, dispose the models).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { checkModelName } from '../registry/index.js';
import { badRequest, httpStatus, ServeError } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { route, type Api, type Reply, type RouteContext } from './routes.js';
import { ModelVersions, type VersionEvent } from './versions.js';
import { closeGracefully, InFlight } from './drain.js';

export interface ModelServerOptions {
  repo: string;
  /** The model folder in the repository (served as /v1/models/NAME and /v2/models/NAME). */
  name: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080 (the book's port); 0 picks a free one. */
  port?: number;
  /** Most examples per forward pass. Default 64. */
  maxBatch?: number;
  /** Longest an idle model waits to fill a batch. Default 0 (batches form while the model is busy). */
  maxDelayMs?: number;
  /** Largest request body in bytes (413 beyond). Default 8 MiB. */
  maxBody?: number;
  /** Newest versions kept loaded. Default 2. */
  keepVersions?: number;
  /** Repository polling period. Default 1000 ms. */
  pollMs?: number;
  /** Longest stop() waits for in-flight requests. Default 30 s. */
  drainTimeoutMs?: number;
  /** Version loads/unloads, repository problems and internal errors. */
  onEvent?: (e: VersionEvent | { event: 'internal_error'; error: string }) => void;
}

export const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

/** Serves the newest versions of one model from a repository over TF Serving REST and KServe V2. */
export class ModelServer {
  private readonly http: Server;
  private readonly metrics = new ServerMetrics();
  readonly versions: ModelVersions;
  private readonly inFlight = new InFlight();
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly maxBody: number;

  constructor(private readonly opts: ModelServerOptions) {
    checkModelName(opts.name);
    this.maxBody = opts.maxBody ?? DEFAULT_MAX_BODY;
    this.versions = new ModelVersions({
      repo: opts.repo,
      name: opts.name,
      keep: opts.keepVersions,
      pollMs: opts.pollMs,
      maxBatch: opts.maxBatch,
      maxDelayMs: opts.maxDelayMs,
      onBatch: (n, s) => this.metrics.batch(n, s),
      onEvent: opts.onEvent,
    });
    this.http = createServer((req, res) => void this.handle(req, res));
    this.http.on('clientError', (err, socket) => rejectMalformed(err, socket as Socket));
    this.http.keepAliveTimeout = 5000;
    this.http.headersTimeout = 20_000;
    this.http.requestTimeout = 60_000;
  }

  /** True once a version is loaded and warmed up, until stop() begins. */
  get ready(): boolean {
    return !this.stopping && this.versions.latest() !== undefined;
  }

  /** Starts listening (liveness) and loading the newest versions (readiness follows). Resolves with the URL. */
  async listen(): Promise<string> {
    const port = this.opts.port ?? 8080;
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) =>
        reject(
          new ServeError('SERVE_LISTEN', `cannot listen on ${host}:${port}: ${err.message}`, { cause: err }),
        );
      this.http.once('error', fail);
      this.http.listen(port, host, () => {
        this.http.off('error', fail);
        resolve();
      });
    });
    void this.versions
      .start()
      .catch((err: Error) => this.opts.onEvent?.({ event: 'internal_error', error: err.message }));
    return this.url;
  }

  get url(): string {
    const a = this.http.address() as AddressInfo | null;
    if (!a) return '';
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  /** Resolves once the first version is loaded (or rejects after `timeoutMs`). */
  async whenReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ready) {
      if (Date.now() > deadline)
        throw new ServeError(
          'SERVE_NOT_READY',
          `no version of "${this.opts.name}" loaded after ${timeoutMs} ms`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops accepting connections, answers every request already received, then disposes the models. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      await closeGracefully(this.http, this.inFlight, this.opts.drainTimeoutMs ?? 30_000);
      await this.versions.close();
    })();
    return this.stopped;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    this.inFlight.enter();
    this.metrics.inFlight++;
    let api: Api = 'other';
    let reply: Reply;
    try {
      const path = (req.url ?? '/').split('?')[0] as string;
      const r = route(req.method ?? 'GET', path, this.opts.name);
      api = r.api;
      reply = await r.run(this.context(req));
    } catch (err) {
      reply = this.errorReply(err);
    }
    this.send(req, res, reply);
    this.metrics.request(api, reply.status, (performance.now() - t0) / 1000);
    this.metrics.inFlight--;
    this.inFlight.leave();
  }

  private context(req: IncomingMessage): RouteContext {
    return {
      versions: this.versions,
      ready: () => this.ready,
      metrics: () => this.metrics.render(this.opts.name, this.versions.versions().length),
      json: async () => {
        const buf = await readBody(req, this.maxBody);
        if (buf.length === 0) throw badRequest('request body is empty; send a JSON object');
        try {
          return JSON.parse(buf.toString('utf8')) as unknown;
        } catch (err) {
          throw badRequest(`request body is not valid JSON: ${(err as Error).message}`);
        }
      },
    };
  }

  private errorReply(err: unknown): Reply {
    const status = httpStatus(err);
    if (!(err instanceof ServeError)) {
      this.opts.onEvent?.({ event: 'internal_error', error: (err as Error)?.message ?? String(err) });
    }
    const message = err instanceof Error ? err.message : String(err);
    return { status, body: { error: message } };
  }

  private send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
    const text = reply.text ? String(reply.body) : JSON.stringify(reply.body);
    const headers: Record<string, string | number> = {
      'content-type': reply.text?.contentType ?? 'application/json',
      'content-length': Buffer.byteLength(text),
    };
    // Close the connection when we stop, or when we did not read the whole body (e.g. 413).
    if (this.stopping || !req.complete) headers.connection = 'close';
    res.writeHead(reply.status, headers);
    res.end(text);
  }
}

/**
 * Reads a request body of at most `limit` bytes; a larger one is a 413. The excess is read and dropped (up to
 * a hard cap) before answering, so a client still sending its body gets the 413 instead of a reset socket.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new ServeError('SERVE_TOO_LARGE', `request body is larger than the limit of ${limit} bytes (--max-body)`);
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
      if (!req.complete)
        reject(new ServeError('SERVE_BAD_REQUEST', 'the client closed the connection before the body ended'));
    });
  });
}

/** Answers bytes that are not HTTP with a 400 in our JSON error shape, then closes the socket. */
function rejectMalformed(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooBig = err.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify({
    error: tooBig ? 'request headers are too large' : `malformed HTTP request (${err.code ?? 'parse error'})`,
  });
  socket.end(
    `HTTP/1.1 ${tooBig ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
