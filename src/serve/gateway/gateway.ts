// The gateway process's HTTP side: one front door for replica groups (book 4.2), speaking the same TF Serving
// REST / KServe V1 and V2 paths as a model server and forwarding them to ready replicas, with per-client rate
// limits (4.4.2), sharded large requests (4.3), an ensemble endpoint that averages several models (5.2),
// its own /metrics and GET /gateway/status.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpStatus, ServeError } from '../errors.js';
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
  /** Largest request body. Default 8 MiB. */
  maxBody?: number;
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
      maxBody: opts.maxBody ?? 8 * 1024 * 1024,
      proxy: { agent: this.agent, onRetry: (m) => this.metrics.retry(m) },
      onSharded: () => this.metrics.sharded++,
    });
    this.http = createServer((req, res) => void this.handle(req, res));
    this.http.keepAliveTimeout = 5000;
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
    try {
      const path = req.url ?? '/';
      const local = this.local(req.method ?? 'GET', path.split('?')[0] as string);
      if (local) reply = local;
      else {
        const target = this.inference.target(req.method ?? 'GET', path);
        model = target.model;
        reply = target.infer
          ? await this.limited(req, () => target.run(req, this.key(req)))
          : await target.run(req, this.key(req));
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
    if (this.stopping || !req.complete) headers['connection'] = 'close';
    res.writeHead(reply.status, headers);
    res.end(text);
    this.inFlight.leave();
  }

  /** Endpoints the gateway answers itself. */
  private local(method: string, path: string): Reply | undefined {
    const get = (r: () => Reply): Reply =>
      method === 'GET'
        ? r()
        : errorReply(new ServeError('SERVE_METHOD_NOT_ALLOWED', `${path} accepts GET, not ${method}`));
    switch (path) {
      case '/v2/health/live':
        return get(() => ({ status: 200, body: { live: true } }));
      case '/v2/health/ready':
        return get(() => ({ status: this.ready ? 200 : 503, body: { ready: this.ready } }));
      case '/v2':
        return get(() => ({
          status: 200,
          body: { name: 'distml-gateway', version: '0.1.0', extensions: [] },
        }));
      case '/metrics':
        return get(() => ({
          status: 200,
          body: this.metrics.render([...this.pools.values()].map((p) => p.status())),
          contentType: 'text/plain; version=0.0.4; charset=utf-8',
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

function errorReply(err: unknown): Reply {
  return { status: httpStatus(err), body: { error: err instanceof Error ? err.message : String(err) } };
}
