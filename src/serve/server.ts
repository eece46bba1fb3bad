// The model server process's HTTP side: plain node:http, bounded bodies, one JSON error shape, metrics, and a
// graceful stop (stop accepting, answer what is in flight, dispose the models).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { checkModelName } from '../registry/index.js';
import { bodyLeftUnread, DEFAULT_MAX_BODY, readBody } from './body.js';
import { badRequest, httpStatus, ServeError } from './errors.js';
import { ImageDecoder } from './inputs/decode.js';
import { ServerMetrics } from './metrics.js';
import { route, type Api, type Reply, type RouteContext } from './routes.js';
import { ModelVersions, type VersionEvent } from './versions.js';
import { closeGracefully, InFlight } from './drain.js';

/** What a model server reports on its event stream: its versions' events and unexpected errors. */
export type ServerEvent = VersionEvent | { event: 'internal-error'; error: string };

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
  /** Decode budget per request: pixels and decoder bytes summed over its images (413 beyond). See decode.ts. */
  maxDecodePixels?: number;
  maxDecodeBytes?: number;
  /** PNG decode threads. Default 1. */
  decodeThreads?: number;
  /** Examples waiting for the model before new requests get 503 + Retry-After. Default 1024. */
  maxQueue?: number;
  /** Longest a request waits for its forward pass to start before 503 + Retry-After. Default 30 s. */
  queueDeadlineMs?: number;
  /** Newest versions kept loaded. Default 2. */
  keepVersions?: number;
  /** Repository polling period. Default 1000 ms. */
  pollMs?: number;
  /** Longest stop() waits for in-flight requests. Default 30 s. */
  drainTimeoutMs?: number;
  /** Version loads/unloads, repository problems and internal errors. */
  onEvent?: (e: ServerEvent) => void;
}

/** Serves the newest versions of one model from a repository over TF Serving REST and KServe V2. */
export class ModelServer {
  private readonly http: Server;
  private readonly metrics = new ServerMetrics();
  readonly versions: ModelVersions;
  private readonly inFlight = new InFlight();
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly maxBody: number;
  private readonly decoder: ImageDecoder;

  constructor(private readonly opts: ModelServerOptions) {
    checkModelName(opts.name);
    this.maxBody = opts.maxBody ?? DEFAULT_MAX_BODY;
    this.decoder = new ImageDecoder({
      maxPixels: opts.maxDecodePixels,
      maxBytes: opts.maxDecodeBytes,
      threads: opts.decodeThreads,
    });
    this.versions = new ModelVersions({
      repo: opts.repo,
      name: opts.name,
      keep: opts.keepVersions,
      pollMs: opts.pollMs,
      maxBatch: opts.maxBatch,
      maxDelayMs: opts.maxDelayMs,
      maxQueue: opts.maxQueue,
      queueDeadlineMs: opts.queueDeadlineMs,
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
      .catch((err: Error) => this.opts.onEvent?.({ event: 'internal-error', error: err.message }));
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
      await this.decoder.close();
    })();
    return this.stopped;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    this.inFlight.enter();
    this.metrics.inFlight++;
    let api: Api = 'other';
    let reply: Reply;
    // A client that closes its connection before its answer is written has gone: its queued work is dropped.
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished)
        gone.abort(new ServeError('SERVE_CLIENT_GONE', 'the client closed the connection before its answer'));
    });
    try {
      const path = (req.url ?? '/').split('?')[0] as string;
      const r = route(req.method ?? 'GET', path, this.opts.name);
      api = r.api;
      reply = await r.run(this.context(req, gone.signal));
    } catch (err) {
      reply = this.errorReply(err);
    }
    if (!gone.signal.aborted) this.send(req, res, reply);
    this.metrics.request(api, reply.status, (performance.now() - t0) / 1000);
    this.metrics.inFlight--;
    this.inFlight.leave();
  }

  private context(req: IncomingMessage, signal: AbortSignal): RouteContext {
    return {
      signal,
      decode: (images, inputs) => this.decoder.decode(images, inputs, signal),
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
      this.opts.onEvent?.({ event: 'internal-error', error: (err as Error)?.message ?? String(err) });
    }
    const message = err instanceof Error ? err.message : String(err);
    const retry = err instanceof ServeError ? err.retryAfterSeconds : undefined;
    return {
      status,
      body: { error: message },
      headers: retry ? { 'retry-after': String(retry) } : undefined,
    };
  }

  private send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
    const text = reply.text ? String(reply.body) : JSON.stringify(reply.body);
    const headers: Record<string, string | number> = {
      'content-type': reply.text?.contentType ?? 'application/json',
      'content-length': Buffer.byteLength(text),
      ...reply.headers,
    };
    // Close the connection when we stop, or when we did not read the whole body (e.g. 413).
    if (this.stopping || bodyLeftUnread(req)) headers.connection = 'close';
    res.writeHead(reply.status, headers);
    res.end(text);
  }
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
