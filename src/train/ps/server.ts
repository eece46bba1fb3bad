import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { LrSchedule } from '../schedule.js';
import { ShardAdam, type AdamMoments } from './adam.js';
import type { Shard } from './partition.js';
import { encodeFrame, FrameReader, Kind, readFloats, type Frame } from './wire.js';

export interface ParameterServerOptions {
  shard: Pick<Shard, 'index' | 'start' | 'end'>;
  /** The shard's initial values (taken over: the server updates this array in place). */
  initial: Float32Array;
  /** Workers in the job: pulls wait for ones not yet connected under a staleness bound. */
  workers: number;
  baseLr: number;
  schedule: LrSchedule;
  adam?: AdamMoments;
  /** Bounded staleness (SSP): a worker may not pull while more than this many pushes ahead of the slowest. */
  staleness?: number;
  /** The job's secret: a connection whose first frame does not carry it is refused. */
  secret: string;
}

/** Bytes a connection may send before its auth frame is complete. */
const MAX_AUTH_BYTES = 64 * 1024;

/** While a pull is held back, its worker hears from the server this often (its request timeout stays quiet). */
const HOLDING_NOTICE_MS = 1000;

/** Training-loss sums of the pushes applied during one epoch. */
export interface EpochSums {
  loss: number;
  correct: number;
  count: number;
}

/** What a server did (the `stats` reply). */
export interface ServerStats {
  index: number;
  start: number;
  end: number;
  version: number;
  examples: number;
  pushesDropped: number;
  bytesIn: number;
  bytesOut: number;
  /** Mean and max of (version at push) − (version the worker pulled): how stale applied gradients were. */
  meanStaleness: number;
  maxStaleness: number;
  /** Pulls that had to wait for slower workers (staleness bound), and the seconds spent waiting. */
  blockedPulls: number;
  blockedSeconds: number;
  updateSeconds: number;
  epochs: EpochSums[];
}

interface WaitingPull {
  socket: Socket;
  worker: number;
  clock: number;
  since: number;
}

/**
 * One parameter server (book 3.2): holds a contiguous shard of the flat parameter vector and its Adam
 * state, applies each pushed gradient as it arrives (asynchronous SGD: no waiting for other workers), and
 * answers pulls with the current values. The learning rate follows the schedule by epochs of examples
 * applied across all workers. With a staleness bound, a pull blocks until the puller is within the bound
 * of the slowest worker's clock; a disconnected (finished) worker no longer holds anyone back.
 */
export class ParameterServer {
  private readonly adam: ShardAdam;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly clocks: number[];
  private readonly waiting: WaitingPull[] = [];
  private readonly stats: ServerStats;
  private epochExamples = 0;
  private totalExamples = 0;
  private stalenessSum = 0;
  private closed = false;
  private holdingTimer: NodeJS.Timeout | undefined;
  /** Connections refused for a missing or wrong secret. */
  refused = 0;
  /** Called once a `shutdown` frame was answered. */
  onShutdown?: () => void;

  constructor(private readonly o: ParameterServerOptions) {
    if (o.initial.length !== o.shard.end - o.shard.start)
      throw new RangeError(
        `shard ${o.shard.index} has ${o.shard.end - o.shard.start} values, got ${o.initial.length}`,
      );
    this.adam = new ShardAdam(o.initial, o.adam);
    this.clocks = new Array<number>(o.workers).fill(0);
    this.stats = {
      index: o.shard.index,
      start: o.shard.start,
      end: o.shard.end,
      version: 0,
      examples: 0,
      pushesDropped: 0,
      bytesIn: 0,
      bytesOut: 0,
      meanStaleness: 0,
      maxStaleness: 0,
      blockedPulls: 0,
      blockedSeconds: 0,
      updateSeconds: 0,
      epochs: [],
    };
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Listens on host:port (0 = any free port); resolves with the port. */
  listen(host: string, port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.holdingTimer = setInterval(() => this.noticeHeld(), HOLDING_NOTICE_MS).unref();
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  /** The shard's current values. */
  get parameters(): Float32Array {
    return this.adam.params;
  }

  snapshot(): ServerStats {
    const s = this.stats;
    return {
      ...s,
      meanStaleness: s.version ? this.stalenessSum / s.version : 0,
      epochs: s.epochs.map((e) => ({ ...e })),
    };
  }

  /** Stops listening and closes every connection. */
  close(): Promise<void> {
    this.closed = true;
    clearInterval(this.holdingTimer);
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const reader = new FrameReader();
    let worker = -1;
    let authed = false;
    let refusedHere = false;
    socket.on('data', (chunk: Buffer) => {
      if (refusedHere) return; // closing: the rest is not read
      this.stats.bytesIn += chunk.length;
      try {
        // A stranger gets no more than an auth frame's worth of our memory.
        if (!authed && reader.pending + chunk.length > MAX_AUTH_BYTES) {
          this.refused++;
          throw new Error(`no job secret in the first ${MAX_AUTH_BYTES} bytes`);
        }
        for (const f of reader.push(chunk)) {
          if (!authed) {
            authed = this.authenticate(f);
            continue;
          }
          const w = this.handle(socket, f, worker);
          if (w !== undefined) worker = w;
        }
      } catch (err) {
        refusedHere = true;
        this.send(socket, Kind.error, { message: (err as Error).message });
        socket.end();
        socket.destroySoon();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      // A finished or lost worker must not hold the others back under a staleness bound.
      if (worker >= 0) this.clocks[worker] = Number.POSITIVE_INFINITY;
      this.release();
    });
  }

  /** True for an auth frame with the job's secret; throws (the connection is refused) otherwise. */
  private authenticate(f: Frame): true {
    const given = Buffer.from(String(f.header['secret'] ?? ''), 'utf8');
    const secret = Buffer.from(this.o.secret, 'utf8');
    if (f.kind === Kind.auth && given.length === secret.length && timingSafeEqual(given, secret)) return true;
    this.refused++;
    throw new Error("wrong or missing job secret (set DISTML_JOB_SECRET to the job's secret)");
  }

  /** Tells every worker whose pull is held back that the server is alive and holding it on purpose. */
  private noticeHeld(): void {
    for (const p of this.waiting) if (!p.socket.destroyed) this.send(p.socket, Kind.holding, {});
  }

  /** Handles one frame; returns the worker index when the frame identified it. */
  private handle(socket: Socket, f: Frame, worker: number): number | undefined {
    const h = f.header;
    switch (f.kind) {
      case Kind.hello:
        return this.hello(socket, h);
      case Kind.pull:
        if (worker < 0) throw new Error('pull before hello');
        this.waiting.push({ socket, worker, clock: Number(h['clock']), since: performance.now() });
        this.release();
        return undefined;
      case Kind.push:
        if (worker < 0) throw new Error('push before hello');
        this.push(worker, h, f.payload);
        return undefined;
      case Kind.stats:
        this.send(socket, Kind.statsReply, this.snapshot());
        return undefined;
      case Kind.shutdown:
        this.send(socket, Kind.statsReply, this.snapshot());
        socket.end(() => this.onShutdown?.());
        return undefined;
      default:
        throw new Error(`unknown frame kind ${f.kind}`);
    }
  }

  private hello(socket: Socket, h: Record<string, unknown>): number {
    const { index, start, end } = this.o.shard;
    const shard = h['shard'] as { index?: number; start?: number; end?: number } | undefined;
    if (shard?.index !== index || shard.start !== start || shard.end !== end)
      throw new Error(
        `this is shard ${index} [${start}, ${end}); the worker expected ${JSON.stringify(shard)}`,
      );
    const w = Number(h['worker']);
    if (!Number.isInteger(w) || w < 0 || w >= this.o.workers || Number(h['workers']) !== this.o.workers)
      throw new Error(
        `worker ${String(h['worker'])} of ${String(h['workers'])} does not fit a job of ${this.o.workers}`,
      );
    const epochExamples = Number(h['epochExamples']);
    const totalExamples = Number(h['totalExamples']);
    if (this.epochExamples && (epochExamples !== this.epochExamples || totalExamples !== this.totalExamples))
      throw new Error('workers disagree on the epoch length: start them with the same data and flags');
    this.epochExamples = epochExamples;
    this.totalExamples = totalExamples;
    this.send(socket, Kind.welcome, { index, start, end, version: this.stats.version });
    return w;
  }

  private get done(): boolean {
    return this.totalExamples > 0 && this.stats.examples >= this.totalExamples;
  }

  private epochOf(examples: number): number {
    return this.epochExamples ? Math.floor(examples / this.epochExamples) : 0;
  }

  private push(worker: number, h: Record<string, unknown>, payload: Buffer): void {
    const s = this.stats;
    this.clocks[worker] = Number(h['clock']);
    if (this.done) {
      s.pushesDropped++; // beyond the last epoch: the job is over
    } else {
      const t0 = performance.now();
      const grad = new Float32Array(payload.length / 4);
      readFloats(payload, grad);
      const epoch = this.epochOf(s.examples);
      this.adam.apply(grad, this.o.schedule(epoch, this.o.baseLr));
      const stale = s.version - Number(h['pulledVersion']);
      this.stalenessSum += stale;
      s.maxStaleness = Math.max(s.maxStaleness, stale);
      const count = Number(h['count']);
      const sums = (s.epochs[epoch] ??= { loss: 0, correct: 0, count: 0 });
      sums.loss += Number(h['loss']) * count;
      sums.correct += Number(h['correct']);
      sums.count += count;
      s.examples += count;
      s.version++;
      s.updateSeconds += (performance.now() - t0) / 1000;
    }
    this.release();
  }

  /** Answers every waiting pull that the staleness bound now allows (all of them once training is done). */
  private release(): void {
    if (this.closed) return;
    const bound = this.o.staleness;
    const slowest = Math.min(...this.clocks);
    for (let i = 0; i < this.waiting.length;) {
      const p = this.waiting[i] as WaitingPull;
      if (bound === undefined || this.done || p.clock - slowest <= bound || p.socket.destroyed) {
        this.waiting.splice(i, 1);
        const waited = performance.now() - p.since;
        if (waited > 1) {
          this.stats.blockedPulls++;
          this.stats.blockedSeconds += waited / 1000;
        }
        if (!p.socket.destroyed) this.answerPull(p.socket);
      } else i++;
    }
  }

  private answerPull(socket: Socket): void {
    const s = this.stats;
    this.send(
      socket,
      Kind.params,
      { version: s.version, examples: s.examples, done: this.done },
      this.adam.params,
    );
  }

  private send(
    socket: Socket,
    kind: (typeof Kind)[keyof typeof Kind],
    header: object,
    payload?: Float32Array,
  ): void {
    const frame = encodeFrame(kind, header, payload);
    this.stats.bytesOut += frame.length;
    socket.write(frame);
  }
}
