// The gateway process's HTTP side: one front door for replica groups (book 4.2), speaking the same TF Serving
// REST / KServe V1 and V2 paths as a model server and forwarding them to ready replicas, with per-client rate
// limits (4.4.2), sharded large requests (4.3), an ensemble endpoint that averages several models (5.2),
// its own /metrics and GET /gateway/status.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bodyLeftUnread, DEFAULT_MAX_BODY } from '../body.js';
import { httpStatus, overloaded, ServeError } from '../errors.js';
import { FIXED_PATHS, METRICS_CONTENT_TYPE, SERVER_VERSION } from '../paths.js';
import type { AccessConfig } from './api-keys.js';
import { AuditLog } from './audit.js';
import type { AutoscalerOptions } from './autoscaler.js';
import type { BalancePolicy } from './balancer.js';
import { Inference, type Reply } from './inference.js';
import { GatewayMetrics } from './metrics.js';
import { ReplicaPool } from './pool.js';
import { replicaAgent } from './proxy.js';
import { identify, RateLimiter } from './rate-limit.js';
import { closeGracefully, InFlight } from '../drain.js';

export interface GatewayOptions {
  /** Models served, one replica group each (the repository folder names). */
  models: string[];
  /** The argv that starts one replica of `model` (a `distml serve` without port flags). */
  replicaCommand: (model: string) => string[];
  env?: NodeJS.ProcessEnv;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free one. */
  port?: number;
  /** Fixed replicas per model (when `autoscale` is not set). Default 1. */
  replicas?: number;
  autoscale?: AutoscalerOptions;
  /** Default least-connections. */
  balance?: BalancePolicy;
  /** Header whose value is the consistent-hash key (else the client address). Default x-session-id. */
  hashHeader?: string;
  probeMs?: number;
  tickMs?: number;
  queueTimeoutMs?: number;
  drainTimeoutMs?: number;
  /** Rate limits per client; off when undefined. */
  access?: AccessConfig;
  /** JSON-lines file of per-client counts (only with `access`). */
  auditLog?: string;
  auditFlushMs?: number;
  /** Requests with more examples than this are split across replicas. Default: never. */
  shardThreshold?: number;
  /** Shards per split request. Default: the ready replicas (at least 2). */
  shards?: number;
  /** Name of the averaging endpoint when several models are served. Default "ensemble". */
  ensembleName?: string;
  /** Largest request body. Default 8 MiB (the model server's default: one body reader, src/serve/body.ts). */
  maxBody?: number;
  /** Model requests (forwarded, sharded, ensemble) in flight at once; beyond, 503 + Retry-After. Default 1024. */
  maxInFlight?: number;
  /** Open client connections; beyond, new ones are closed at once (node:http maxConnections). Default 1024. */
  maxConnections?: number;
  onEvent?: (e: { event: string } & Record<string, unknown>) => void;
}

/** Starts replica groups and serves the model-server API in front of them. */
export class Gateway {
  readonly pools = new Map<string, ReplicaPool>();
  private readonly http: Server;
  private readonly metrics = new GatewayMetrics();
  private readonly limiter: RateLimiter | undefined;
  private readonly audit: AuditLog | undefined;
  private readonly agent = replicaAgent();
  private readonly inference: Inference;
  private readonly startedAt = Date.now();
  private readonly inFlight = new InFlight();
  /** Model requests being worked on (health, metrics and status are not counted: they must always answer). */
  private working = 0;
  private stopping = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly opts: GatewayOptions) {
    for (const model of opts.models) {
      this.pools.set(
        model,
        new ReplicaPool({
          model,
          command: opts.replicaCommand(model),
          env: opts.env,
          replicas: opts.replicas,
          autoscale: opts.autoscale,
          balance: opts.balance,
          probeMs: opts.probeMs,
          tickMs: opts.tickMs,
          queueTimeoutMs: opts.queueTimeoutMs,
          drainTimeoutMs: opts.drainTimeoutMs,
          onEvent: opts.onEvent,
        }),
      );
    }
    if (opts.access) {
      this.limiter = new RateLimiter();
      if (opts.auditLog)
        this.audit = new AuditLog(opts.auditLog, opts.auditFlushMs, (err, lines) => {
          this.metrics.auditWriteFailures++;
          this.metrics.auditLinesDropped += lines;
          opts.onEvent?.({ event: 'audit-write-failed', path: opts.auditLog, lines, message: err.message });
        });
    }
    this.inference = new Inference({
      pools: this.pools,
      ensembleName: opts.models.length > 1 ? (opts.ensembleName ?? 'ensemble') : undefined,
      shardThreshold: opts.shardThreshold,
      shards: opts.shards,
      maxBody: opts.maxBody ?? DEFAULT_MAX_BODY,
      proxy: { agent: this.agent, onRetry: (m) => this.metrics.retry(m) },
      onSharded: () => this.metrics.sharded++,
    });
    this.http = createServer((req, res) => void this.handle(req, res));
    // The same connection limits as a model server: a slow or idle client cannot hold sockets forever.
    this.http.keepAliveTimeout = 5000;
    this.http.headersTimeout = 20_000;
    this.http.requestTimeout = 60_000;
    this.http.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  }

  /** Starts the replicas and listens; resolves with the URL (readiness follows the replicas). */
  async listen(): Promise<string> {
    const port = this.opts.port ?? 8080;
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) =>
        reject(new ServeError('SERVE_LISTEN', `cannot listen on ${host}:${port}: ${err.message}`));
      this.http.once('error', fail);
      this.http.listen(port, host, () => {
        this.http.off('error', fail);
        resolve();
      });
    });
    for (const p of this.pools.values()) p.start();
    return this.url;
  }

  get url(): string {
    const a = this.http.address() as AddressInfo | null;
    return a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : '';
  }

  /** True when every model can take a request (a ready replica, or scale-from-zero). */
  get ready(): boolean {
    return !this.stopping && [...this.pools.values()].every((p) => p.available);
  }

  /** Resolves once ready (or rejects after `timeoutMs`). */
  async whenReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ready) {
      if (Date.now() > deadline)
        throw new ServeError('SERVE_NOT_READY', `replicas not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Replicas, autoscaler decisions and rate-limit state (GET /gateway/status). */
  status(): Record<string, unknown> {
    return {
      url: this.url,
      started: new Date(this.startedAt).toISOString(),
      ready: this.ready,
      inFlight: this.inFlight.count,
      balance: this.opts.balance ?? 'least-connections',
      models: [...this.pools.values()].map((p) => p.status()),
      ...(this.inference.ensembleName ? { ensemble: this.inference.ensembleName } : {}),
      ...(this.limiter ? { clients: this.limiter.snapshot() } : {}),
    };
  }

  /** Stops accepting, answers requests in flight, stops every replica, flushes the audit log. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      await closeGracefully(this.http, this.inFlight, this.opts.drainTimeoutMs ?? 30_000);
      this.limiter?.close();
      await Promise.all([...this.pools.values()].map((p) => p.stop()));
      this.agent.destroy();
      this.audit?.close();
    })();
    return this.stopped;
  }

  /** Kills every replica at once (when the gateway cannot stop gracefully). */
  killReplicas(): void {
    for (const p of this.pools.values()) p.killAll();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight.enter();
    let reply: Reply;
    let model = '-';
    // A client that closes its connection before its answer: its forwarded requests are cancelled.
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished)
        gone.abort(new ServeError('SERVE_CLIENT_GONE', 'the client closed the connection before its answer'));
    });
    try {
      const path = req.url ?? '/';
      const local = this.local(req.method ?? 'GET', path.split('?')[0] as string);
      if (local) reply = local;
      else {
        const target = this.inference.target(req.method ?? 'GET', path);
        model = target.model;
        const run = () => target.run(req, this.key(req), gone.signal);
        reply = await this.capped(req, () => (target.infer ? this.limited(req, run) : run()));
      }
    } catch (err) {
      reply = errorReply(err);
    }
    if (model !== '-') this.metrics.request(model, reply.status);
    const text =
      typeof reply.body === 'string' || Buffer.isBuffer(reply.body) ? reply.body : JSON.stringify(reply.body);
    const headers: Record<string, string | number> = {
      'content-type': reply.contentType ?? 'application/json',
      'content-length': Buffer.byteLength(text),
      ...reply.headers,
    };
    if (this.stopping || bodyLeftUnread(req)) headers['connection'] = 'close';
    if (!gone.signal.aborted) {
      res.writeHead(reply.status, headers);
      res.end(text);
    }
    this.inFlight.leave();
  }

  /** Endpoints the gateway answers itself. */
  private local(method: string, path: string): Reply | undefined {
    const get = (r: () => Reply): Reply =>
      method === 'GET'
        ? r()
        : errorReply(new ServeError('SERVE_METHOD_NOT_ALLOWED', `${path} accepts GET, not ${method}`));
    switch (path) {
      case FIXED_PATHS.live:
        return get(() => ({ status: 200, body: { live: true } }));
      case FIXED_PATHS.ready:
        return get(() => ({ status: this.ready ? 200 : 503, body: { ready: this.ready } }));
      case FIXED_PATHS.server:
        return get(() => ({
          status: 200,
          body: { name: 'distml-gateway', version: SERVER_VERSION, extensions: [] },
        }));
      case FIXED_PATHS.metrics:
        return get(() => ({
          status: 200,
          body: this.metrics.render([...this.pools.values()].map((p) => p.status())),
          contentType: METRICS_CONTENT_TYPE,
        }));
      case '/gateway/status':
        return get(() => ({ status: 200, body: this.status() }));
      default:
        return undefined;
    }
  }

  /** The consistent-hash key: the configured header, else the client address. */
  private key(req: IncomingMessage): string {
    const h = req.headers[(this.opts.hashHeader ?? 'x-session-id').toLowerCase()];
    return (typeof h === 'string' && h) || req.socket.remoteAddress || '';
  }

  /** Runs `work` unless --max-in-flight model requests are already being worked on (503 + Retry-After). */
  private async capped(req: IncomingMessage, work: () => Promise<Reply>): Promise<Reply> {
    const cap = this.opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    if (this.working >= cap) {
      req.resume(); // drop the unread body so the connection can be reused
      throw overloaded(
        `the gateway is working on ${this.working} requests, its limit (--max-in-flight ${cap}); retry shortly`,
      );
    }
    this.working++;
    try {
      return await work();
    } finally {
      this.working--;
    }
  }

  /** Runs `work` within the client's rate limits (or refuses with 429 + Retry-After). */
  private async limited(req: IncomingMessage, work: () => Promise<Reply>): Promise<Reply> {
    if (!this.limiter || !this.opts.access) return work();
    let client;
    try {
      client = identify(this.opts.access, req.headers, req.socket.remoteAddress ?? '');
    } catch (err) {
      this.audit?.record({ id: 'key:invalid', tier: 'none' }, 'unauthorized');
      throw err;
    }
    const a = await this.limiter.acquire(client);
    if (!a.admitted) {
      this.audit?.record(client, 'limited');
      this.metrics.rateLimited(client.tier);
      req.resume(); // drop the unread body so the connection can be reused
      return {
        status: 429,
        body: { error: `rate limited: ${a.reason}; retry after ${a.retryAfterSeconds} s` },
        headers: { 'retry-after': String(a.retryAfterSeconds) },
      };
    }
    this.audit?.record(client, 'accepted');
    try {
      return await work();
    } finally {
      a.release();
    }
  }
}

export const DEFAULT_MAX_IN_FLIGHT = 1024;
export const DEFAULT_MAX_CONNECTIONS = 1024;

function errorReply(err: unknown): Reply {
  const retry = err instanceof ServeError ? err.retryAfterSeconds : undefined;
  return {
    status: httpStatus(err),
    body: { error: err instanceof Error ? err.message : String(err) },
    ...(retry ? { headers: { 'retry-after': String(retry) } } : {}),
  };
}
