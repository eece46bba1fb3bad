// A replica group for one model (book 4.2): keeps the desired number of `distml serve` processes running,
// replaces crashed ones, routes each request to a ready replica through the balancer, and — when no replica
// is ready (starting up, or scaled to zero) — queues the request until one is (the activator of book 4.4 /
// Knative). The autoscaler, when enabled, sets the desired count from the concurrency this pool measures.
import { Autoscaler, type AutoscalerOptions, type Decision } from './autoscaler.js';
import { createBalancer, type Balancer, type BalancePolicy } from './balancer.js';
import { Replica, type ReplicaInfo, type ReplicaState } from './replica.js';
import { ServeError } from '../errors.js';
import type { GatewayEvent } from './events.js';

export interface PoolOptions {
  model: string;
  /** The replica command (see ReplicaOptions.command). */
  command: string[];
  env?: NodeJS.ProcessEnv;
  /** Fixed replica count (ignored when `autoscale` is set). Default 1. */
  replicas?: number;
  autoscale?: AutoscalerOptions;
  balance?: BalancePolicy;
  /** Readiness probe period. Default 500 ms. */
  probeMs?: number;
  /** Autoscaler tick (one concurrency sample per tick). Default 1000 ms. */
  tickMs?: number;
  /** Longest a request waits for a ready replica before a 503. Default 60 s. */
  queueTimeoutMs?: number;
  /** Longest a stopping replica may drain before SIGKILL. Default 30 s. */
  drainTimeoutMs?: number;
  onEvent?: (e: GatewayEvent) => void;
}

interface Waiter {
  resolve: (r: Replica) => void;
  reject: (e: Error) => void;
  key: string;
  timer: NodeJS.Timeout;
}

export interface PoolStatus {
  model: string;
  desired: number;
  ready: number;
  inFlight: number;
  queued: number;
  replicas: ReplicaInfo[];
  autoscaler?: {
    min: number;
    max: number;
    target: number;
    stableWindowMs: number;
    panicWindowMs: number;
    panicking: boolean;
    stableConcurrency: number;
    panicConcurrency: number;
    decisions: Decision[];
  };
  restarts: number;
}

/** The replicas of one model and the policy that routes to them. */
export class ReplicaPool {
  readonly model: string;
  private readonly replicas: Replica[] = [];
  private readonly balancer: Balancer;
  readonly autoscaler: Autoscaler | undefined;
  desired: number;
  private waiters: Waiter[] = [];
  private active = 0;
  private area = 0;
  private lastChange = Date.now();
  private lastTick = Date.now();
  private tickTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private crashStreak = 0;
  restarts = 0;
  private stopping = false;

  constructor(private readonly opts: PoolOptions) {
    this.model = opts.model;
    this.balancer = createBalancer(opts.balance ?? 'least-connections');
    this.autoscaler = opts.autoscale ? new Autoscaler(opts.autoscale) : undefined;
    this.desired = opts.autoscale ? opts.autoscale.min : (opts.replicas ?? 1);
  }

  /** Starts the initial replicas and the autoscaler loop. */
  start(): void {
    this.reconcile();
    if (this.autoscaler) {
      this.tickTimer = setInterval(() => this.tick(), this.opts.tickMs ?? 1000);
      this.tickTimer.unref();
    }
  }

  /** Replicas that take traffic now. */
  ready(): Replica[] {
    return this.replicas.filter((r) => r.routable);
  }

  /** True when a request would be served (or queued for a replica that is on its way). */
  get available(): boolean {
    return this.ready().length > 0 || (this.autoscaler !== undefined && this.autoscaler.opts.min === 0);
  }

  /** Requests in flight to replicas plus those waiting for one: the autoscaler's metric. */
  get concurrency(): number {
    return this.active;
  }

  /** Counts a request against this model's concurrency until `leave()`. */
  enter(): void {
    this.account(+1);
  }

  leave(): void {
    this.account(-1);
  }

  /**
   * A ready replica for a request (its in-flight count already raised; call `release`). Waits, up to the
   * queue timeout, when none is ready; asks for one at once when the pool is scaled to zero.
   */
  acquire(key: string, avoid?: Set<number>): Promise<Replica> {
    if (this.stopping) return Promise.reject(new ServeError('SERVE_NOT_READY', 'the gateway is stopping'));
    const r = this.pick(key, avoid);
    if (r) return Promise.resolve(r);
    if (this.desired === 0) this.scaleFromZero();
    return new Promise((resolve, reject) => {
      const timeoutMs = this.opts.queueTimeoutMs ?? 60_000;
      const w: Waiter = {
        resolve,
        reject,
        key,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(
            new ServeError(
              'SERVE_NOT_READY',
              `no replica of "${this.model}" became ready within ${timeoutMs} ms (--queue-timeout)`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  /** The request that `acquire` returned `r` for is over; `ok` false when it failed on the connection. */
  release(r: Replica, ok: boolean): void {
    r.inFlight--;
    if (ok) r.served++;
    else {
      r.failed++;
      r.connectionFailed();
    }
  }

  status(): PoolStatus {
    const a = this.autoscaler;
    return {
      model: this.model,
      desired: this.desired,
      ready: this.ready().length,
      inFlight: this.active - this.waiters.length,
      queued: this.waiters.length,
      replicas: this.replicas.map((r) => r.info()),
      ...(a
        ? {
            autoscaler: {
              min: a.opts.min,
              max: a.opts.max,
              target: a.opts.target,
              stableWindowMs: a.stableWindowMs,
              panicWindowMs: a.panicWindowMs,
              panicking: a.panicking,
              stableConcurrency: round(a.last.stable),
              panicConcurrency: round(a.last.panic),
              decisions: a.decisions,
            },
          }
        : {}),
      restarts: this.restarts,
    };
  }

  /** Stops every replica (each drains its requests), rejecting requests still waiting for one. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.tickTimer);
    clearTimeout(this.restartTimer);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new ServeError('SERVE_NOT_READY', 'the gateway is stopping'));
    }
    await Promise.all(this.replicas.map((r) => r.stop(this.opts.drainTimeoutMs ?? 30_000)));
  }

  /** Kills every replica at once (last resort when the gateway itself must go). */
  killAll(): void {
    for (const r of this.replicas) r.kill();
  }

  private pick(key: string, avoid?: Set<number>): Replica | undefined {
    const ready = this.ready();
    if (ready.length === 0) return undefined;
    const preferred = avoid ? ready.filter((r) => !avoid.has(r.id)) : ready;
    const r = this.balancer.pick(preferred.length > 0 ? preferred : ready, key);
    r.inFlight++;
    return r;
  }

  private account(delta: number): void {
    const now = Date.now();
    this.area += this.active * (now - this.lastChange);
    this.lastChange = now;
    this.active += delta;
  }

  private tick(): void {
    const a = this.autoscaler as Autoscaler;
    const now = Date.now();
    this.account(0);
    const avg = now > this.lastTick ? this.area / (now - this.lastTick) : this.active;
    this.area = 0;
    this.lastTick = now;
    a.observe(now, avg);
    const next = a.decide(now, this.ready().length, this.desired);
    if (next !== this.desired) {
      // decide() records the decision it returns: the last one is this change.
      const d = a.decisions[a.decisions.length - 1] as Decision;
      this.opts.onEvent?.({ event: 'scale', model: this.model, ...d });
      this.desired = next;
      this.reconcile();
    }
  }

  private scaleFromZero(): void {
    this.autoscaler?.record(Date.now(), 0, 1, 'scale from zero: a request arrived', this.active);
    this.opts.onEvent?.({ event: 'scale', model: this.model, from: 0, to: 1, reason: 'scale from zero' });
    this.desired = 1;
    this.reconcile();
  }

  /** Starts or stops replicas until the live ones match `desired`. */
  private reconcile(): void {
    if (this.stopping) return;
    const live = this.replicas.filter((r) => r.state !== 'draining' && r.state !== 'exited');
    for (let i = live.length; i < this.desired; i++) this.spawn();
    if (live.length > this.desired) {
      // Stop the ones doing least: not yet ready first, then the fewest requests in flight, newest first.
      const rank = (r: Replica) => (r.routable ? 1 : 0);
      const victims = [...live]
        .sort((a, b) => rank(a) - rank(b) || a.inFlight - b.inFlight || b.startedAt - a.startedAt)
        .slice(0, live.length - this.desired);
      for (const r of victims) void r.stop(this.opts.drainTimeoutMs ?? 30_000);
    }
  }

  private spawn(): void {
    const r = new Replica({
      command: this.opts.command,
      env: this.opts.env,
      probeMs: this.opts.probeMs,
      onState: (rep, from) => this.onState(rep, from),
    });
    this.replicas.push(r);
    this.opts.onEvent?.({ event: 'replica-started', model: this.model, id: r.id, pid: r.pid });
  }

  private onState(r: Replica, from: ReplicaState): void {
    if (r.state === 'ready') {
      this.crashStreak = 0;
      this.opts.onEvent?.({ event: 'replica-ready', model: this.model, id: r.id, url: r.url });
      this.wake();
    }
    if (r.state !== 'exited') return;
    this.replicas.splice(this.replicas.indexOf(r), 1);
    if (from === 'draining' || this.stopping) {
      this.opts.onEvent?.({ event: 'replica-stopped', model: this.model, id: r.id });
      return;
    }
    // Not asked to stop: it crashed. Replace it (with a growing delay when replicas keep dying young).
    this.restarts++;
    if (from !== 'ready' && from !== 'unready') this.crashStreak++;
    const info = r.info();
    this.opts.onEvent?.({
      event: 'replica-crashed',
      model: this.model,
      id: r.id,
      exitCode: info.exitCode,
      signal: info.signal,
      stderr: r.lastErrors.slice(-3),
    });
    const delay = this.crashStreak === 0 ? 0 : Math.min(10_000, 250 * 2 ** this.crashStreak);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => this.reconcile(), delay);
  }

  private wake(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0] as Waiter;
      const r = this.pick(w.key);
      if (!r) return;
      this.waiters.shift();
      clearTimeout(w.timer);
      w.resolve(r);
    }
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;
