import { connect, type Socket } from 'node:net';
import { TrainError } from '../errors.js';
import type { Shard } from './partition.js';
import type { ServerStats } from './server.js';
import { encodeFrame, FrameReader, Kind, readFloats, type Frame, type KindCode } from './wire.js';

/** A parameter server's address. */
export interface ServerAddress {
  host: string;
  port: number;
}

/** What a pull returns: the whole parameter vector and shard 0's view of progress. */
export interface Pulled {
  params: Float32Array;
  /** Per shard: its version (updates applied) when it answered. */
  versions: number[];
  /** Examples applied across all workers (shard 0's count: the job's clock). */
  examples: number;
  done: boolean;
}

interface Pending {
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
}

/** How a link reaches and authenticates with its server, and how long a request may go unanswered. */
interface LinkOptions {
  secret: string;
  /** A request with nothing heard from the server for this long fails the link (the server is frozen). */
  requestTimeoutMs: number;
  connectTimeoutMs: number;
}

/**
 * One connection to one server: in-order replies, failures reject everything outstanding. The first frame
 * presents the job's secret. While requests are outstanding the server must keep talking (a reply, or
 * `holding` notices for a pull held back on purpose); silence for requestTimeoutMs fails the link.
 */
class Link {
  private readonly pending: Pending[] = [];
  private failure: Error | undefined;
  private silence: NodeJS.Timeout | undefined;
  bytesOut = 0;
  bytesIn = 0;

  constructor(
    private readonly socket: Socket,
    readonly name: string,
    private readonly o: LinkOptions,
  ) {
    const reader = new FrameReader();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.pending.length) this.arm();
      this.bytesIn += chunk.length;
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        return this.fail(new TrainError('TRAIN_PROTOCOL', `${name}: ${(err as Error).message}`));
      }
      for (const f of frames) {
        if (f.kind === Kind.holding) continue;
        if (f.kind === Kind.error)
          return this.fail(
            new TrainError('TRAIN_PEER_REFUSED', `${name} refused: ${String(f.header['message'])}`),
          );
        this.pending.shift()?.resolve(f);
        if (!this.pending.length) clearTimeout(this.silence);
      }
    });
    socket.on('error', (err) => this.fail(new TrainError('TRAIN_PEER_LOST', `${name}: ${err.message}`)));
    socket.on('close', () => this.fail(new TrainError('TRAIN_PEER_LOST', `${name} closed the connection`)));
  }

  static open(addr: ServerAddress, name: string, o: LinkOptions): Promise<Link> {
    const timeoutMs = o.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: addr.host, port: addr.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new TrainError(
            'TRAIN_PEER_UNREACHABLE',
            `${name} at ${addr.host}:${addr.port} did not answer in ${timeoutMs / 1000} s`,
          ),
        );
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        const link = new Link(socket, `${name} at ${addr.host}:${addr.port}`, o);
        link.send(Kind.auth, { secret: o.secret });
        resolve(link);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(
          new TrainError(
            'TRAIN_PEER_UNREACHABLE',
            `cannot reach ${name} at ${addr.host}:${addr.port}: ${err.message}`,
          ),
        );
      });
    });
  }

  /** Sends a frame without waiting for an answer. */
  send(kind: KindCode, header: object, payload?: Float32Array): void {
    if (this.failure) throw this.failure;
    const frame = encodeFrame(kind, header, payload);
    this.bytesOut += frame.length;
    this.socket.write(frame);
  }

  /** Sends a frame and resolves with the reply. */
  request(kind: KindCode, header: object, payload?: Float32Array): Promise<Frame> {
    return new Promise((resolve, reject) => {
      try {
        this.send(kind, header, payload);
      } catch (err) {
        return reject(err as Error);
      }
      if (!this.pending.length) this.arm();
      this.pending.push({ resolve, reject });
    });
  }

  close(): void {
    clearTimeout(this.silence);
    this.failure ??= new TrainError('TRAIN_PEER_LOST', `${this.name} connection closed`);
    this.socket.end();
  }

  /** (Re)starts the silence clock. */
  private arm(): void {
    clearTimeout(this.silence);
    this.silence = setTimeout(() => this.silent(), this.o.requestTimeoutMs);
  }

  private silent(): void {
    const s = this.o.requestTimeoutMs / 1000;
    this.fail(
      new TrainError(
        'TRAIN_PEER_LOST',
        `${this.name} did not answer within ${s} s (stopped, frozen or overloaded): stopping instead of ` +
          'waiting for ever; raise --comm-timeout if it is only slow',
      ),
    );
  }

  private fail(err: Error): void {
    clearTimeout(this.silence);
    this.failure ??= err;
    for (const p of this.pending.splice(0)) p.reject(err);
    this.socket.destroy();
  }
}

export interface ClientOptions {
  worker: number;
  workers: number;
  shards: Shard[];
  servers: ServerAddress[];
  epochExamples: number;
  totalExamples: number;
  /** The job's secret, presented on every connection. */
  secret: string;
  connectTimeoutMs?: number;
  /** Silence from a server with a request outstanding fails the worker after this long. Default 30 s. */
  requestTimeoutMs?: number;
}

/** A worker's connections to every parameter server: pull the whole model, push gradient shards. */
export class PsClient {
  private constructor(
    private readonly links: Link[],
    private readonly shards: Shard[],
    private readonly total: number,
  ) {}

  static async connect(o: ClientOptions): Promise<PsClient> {
    if (o.servers.length !== o.shards.length)
      throw new TrainError(
        'TRAIN_BAD_OPTION',
        `${o.servers.length} server addresses for ${o.shards.length} shards`,
      );
    const links: Link[] = [];
    try {
      for (const [k, addr] of o.servers.entries()) {
        const link = await Link.open(addr, `parameter server ${k}`, {
          secret: o.secret,
          connectTimeoutMs: o.connectTimeoutMs ?? 30_000,
          requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
        });
        links.push(link);
        const s = o.shards[k] as Shard;
        await link.request(Kind.hello, {
          worker: o.worker,
          workers: o.workers,
          epochExamples: o.epochExamples,
          totalExamples: o.totalExamples,
          shard: { index: s.index, start: s.start, end: s.end },
        });
      }
    } catch (err) {
      for (const l of links) l.close();
      throw err;
    }
    return new PsClient(links, o.shards, o.shards[o.shards.length - 1]?.end ?? 0);
  }

  get bytesPushed(): number {
    return this.links.reduce((n, l) => n + l.bytesOut, 0);
  }

  get bytesPulled(): number {
    return this.links.reduce((n, l) => n + l.bytesIn, 0);
  }

  /** Fetches every shard (each server may hold the reply back under a staleness bound). */
  async pull(clock: number, into?: Float32Array): Promise<Pulled> {
    const params = into ?? new Float32Array(this.total);
    const replies = await Promise.all(this.links.map((l) => l.request(Kind.pull, { clock })));
    replies.forEach((f, k) => readFloats(f.payload, params, (this.shards[k] as Shard).start));
    const head = (replies[0] as Frame).header;
    return {
      params,
      versions: replies.map((f) => Number(f.header['version'])),
      examples: Number(head['examples']),
      done: replies.some((f) => f.header['done'] === true),
    };
  }

  /** Sends each server its slice of the gradients; returns at once (TCP keeps order with the next pull). */
  push(
    grads: Float32Array,
    meta: { clock: number; pulledVersions: number[]; count: number; loss: number; correct: number },
  ): void {
    this.links.forEach((l, k) => {
      const s = this.shards[k] as Shard;
      l.send(
        Kind.push,
        {
          clock: meta.clock,
          pulledVersion: meta.pulledVersions[k],
          count: meta.count,
          loss: meta.loss,
          correct: meta.correct,
        },
        grads.subarray(s.start, s.end),
      );
    });
  }

  /** Every server's statistics. */
  async stats(): Promise<ServerStats[]> {
    const replies = await Promise.all(this.links.map((l) => l.request(Kind.stats, {})));
    return replies.map((f) => f.header as unknown as ServerStats);
  }

  close(): void {
    for (const l of this.links) l.close();
  }
}

/** Asks one server for its statistics and to stop (the launcher's last word to it). */
export async function shutdownServer(
  addr: ServerAddress,
  secret: string,
  timeoutMs = 10_000,
): Promise<ServerStats> {
  const link = await Link.open(addr, 'parameter server', {
    secret,
    connectTimeoutMs: timeoutMs,
    requestTimeoutMs: timeoutMs,
  });
  try {
    const f = await link.request(Kind.shutdown, {});
    return f.header as unknown as ServerStats;
  } finally {
    link.close();
  }
}
