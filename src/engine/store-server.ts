// The job's rendezvous store server. It replaces libtorch 1.13's TCPStore server, which binds every
// interface and serves anyone who connects: this one listens on the address it is given (127.0.0.1 unless
// a job spans hosts) and serves a connection only after its first frame presented the job's secret.
// Clients are the addon's SecretStore (native/src/store.cc, which Gloo and our Store class both use).
//
//   frame  = u32 LE length | u8 code | field*        field = u32 LE length | bytes
//   request codes: 1 auth [secret], 2 set [key, value], 3 get [waitMs, key], 4 add [key, delta],
//                  5 check [key…], 6 compareSet [key, expected, desired], 7 delete [key], 8 numKeys [],
//                  9 wait [waitMs, key…]          (waitMs "0" = no bound)
//   reply codes:   0 ok [value…], 1 error [message], 2 timeout [message]
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { EngineError } from './errors.js';

export const StoreOp = {
  auth: 1,
  set: 2,
  get: 3,
  add: 4,
  check: 5,
  compareSet: 6,
  delete: 7,
  numKeys: 8,
  wait: 9,
} as const;
const Reply = { ok: 0, error: 1, timeout: 2 } as const;

/** A frame larger than this is refused (keys and values are small: membership, state, epoch logs). */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** The largest frame accepted before a connection has authenticated. */
const MAX_AUTH_FRAME_BYTES = 4096;
/** A connection that has not authenticated by then is closed. */
const AUTH_DEADLINE_MS = 10_000;

/** Encodes one frame of the store protocol (exported for tests that speak it by hand). */
export function encodeStoreFrame(code: number, fields: (string | Buffer)[]): Buffer {
  const parts = fields.map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : f));
  const length = 1 + parts.reduce((n, p) => n + 4 + p.length, 0);
  const out = Buffer.allocUnsafe(4 + length);
  out.writeUInt32LE(length, 0);
  out.writeUInt8(code, 4);
  let at = 5;
  for (const p of parts) {
    out.writeUInt32LE(p.length, at);
    p.copy(out, at + 4);
    at += 4 + p.length;
  }
  return out;
}

/** Splits a frame body (after its length) into code and fields. */
export function decodeStoreBody(body: Buffer): { code: number; fields: Buffer[] } {
  const fields: Buffer[] = [];
  for (let at = 1; at < body.length;) {
    if (at + 4 > body.length) throw new Error('truncated field');
    const len = body.readUInt32LE(at);
    if (at + 4 + len > body.length) throw new Error('field overruns the frame');
    fields.push(body.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return { code: body.readUInt8(0), fields };
}

/** A fresh per-job secret: 32 random bytes, hex. */
export function newJobSecret(): string {
  return randomBytes(32).toString('hex');
}

export interface StoreServerOptions {
  /** Listen address: 127.0.0.1 for a job on one host; a job spanning hosts names its own. */
  host: string;
  /** 0 = any free port. */
  port?: number;
  /** Every connection must present it first. */
  secret: string;
}

interface Waiter {
  keys: string[];
  socket: Socket;
  code: number;
  timer?: NodeJS.Timeout;
}

/** The rendezvous key-value store server; see the protocol above. */
export class StoreServer {
  private readonly data = new Map<string, Buffer>();
  private readonly waiters = new Set<Waiter>();
  private readonly sockets = new Set<Socket>();
  private readonly secret: Buffer;
  /** Connections closed because they did not present the secret. */
  refused = 0;

  private constructor(
    private readonly server: Server,
    secret: string,
  ) {
    this.secret = Buffer.from(secret, 'utf8');
  }

  /** Starts listening; resolves once bound. */
  static async start(o: StoreServerOptions): Promise<StoreServer> {
    if (!o.secret)
      throw new EngineError('ENGINE_BAD_INPUT', 'the rendezvous store needs a non-empty job secret');
    const server = createServer();
    const self = new StoreServer(server, o.secret);
    server.on('connection', (socket: Socket) => self.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new EngineError('ENGINE_COMM_STORE', `cannot listen on ${o.host}:${o.port ?? 0}: ${err.message}`),
        ),
      );
      server.listen(o.port ?? 0, o.host, () => resolve());
    });
    return self;
  }

  /** The port it listens on. */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** Stops listening and closes every connection (idempotent). */
  async close(): Promise<void> {
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters.clear();
    for (const s of this.sockets) s.destroy();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let authed = false;
    let buf: Buffer = Buffer.alloc(0);
    const deadline = setTimeout(() => this.refuse(socket, 'no secret presented in time'), AUTH_DEADLINE_MS);
    socket.on('data', (chunk: Buffer) => {
      if (socket.writableEnded) return; // refused and closing: the rest is not read
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 4 && !socket.destroyed) {
        const length = buf.readUInt32LE(0);
        // Before the secret, nothing larger than an auth frame is buffered for a stranger.
        const max = authed ? MAX_FRAME_BYTES : MAX_AUTH_FRAME_BYTES;
        if (length < 1 || length > max) return this.refuse(socket, `bad frame length ${length}`);
        if (buf.length < 4 + length) break;
        const body = buf.subarray(4, 4 + length);
        buf = buf.subarray(4 + length);
        let frame: ReturnType<typeof decodeStoreBody>;
        try {
          frame = decodeStoreBody(body);
        } catch (err) {
          return this.refuse(socket, (err as Error).message);
        }
        if (!authed) {
          if (frame.code !== StoreOp.auth || !this.matches(frame.fields[0]))
            return this.refuse(socket, 'wrong or missing job secret');
          authed = true;
          clearTimeout(deadline);
          this.reply(socket, Reply.ok, []);
          continue;
        }
        this.handle(socket, frame.code, frame.fields);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(deadline);
      this.sockets.delete(socket);
      for (const w of this.waiters)
        if (w.socket === socket) {
          clearTimeout(w.timer);
          this.waiters.delete(w);
        }
    });
  }

  private matches(given: Buffer | undefined): boolean {
    return !!given && given.length === this.secret.length && timingSafeEqual(given, this.secret);
  }

  private refuse(socket: Socket, why: string): void {
    this.refused++;
    socket.end(encodeStoreFrame(Reply.error, [`refused: ${why}`]));
    socket.destroySoon();
  }

  private reply(socket: Socket, code: number, fields: (string | Buffer)[]): void {
    if (!socket.destroyed) socket.write(encodeStoreFrame(code, fields));
  }

  private handle(socket: Socket, code: number, f: Buffer[]): void {
    const str = (i: number) => (f[i] ?? Buffer.alloc(0)).toString('utf8');
    switch (code) {
      case StoreOp.set:
        this.put(str(0), Buffer.from(f[1] ?? Buffer.alloc(0)));
        return this.reply(socket, Reply.ok, []);
      case StoreOp.get:
        return this.await(socket, code, Number(str(0)), [str(1)]);
      case StoreOp.wait:
        return this.await(
          socket,
          code,
          Number(str(0)),
          f.slice(1).map((b) => b.toString('utf8')),
        );
      case StoreOp.add: {
        const next = Number(this.data.get(str(0))?.toString() ?? 0) + Number(str(1));
        this.put(str(0), Buffer.from(String(next)));
        return this.reply(socket, Reply.ok, [String(next)]);
      }
      case StoreOp.check:
        return this.reply(socket, Reply.ok, [f.every((k) => this.data.has(k.toString('utf8'))) ? '1' : '0']);
      case StoreOp.compareSet:
        return this.reply(socket, Reply.ok, [this.compareSet(str(0), f[1], f[2])]);
      case StoreOp.delete:
        return this.reply(socket, Reply.ok, [this.data.delete(str(0)) ? '1' : '0']);
      case StoreOp.numKeys:
        return this.reply(socket, Reply.ok, [String(this.data.size)]);
      default:
        return this.reply(socket, Reply.error, [`unknown request code ${code}`]);
    }
  }

  // TCPStore's semantics: absent + expected empty sets it; a match sets it; the reply is the value now.
  private compareSet(
    key: string,
    expected: Buffer = Buffer.alloc(0),
    desired: Buffer = Buffer.alloc(0),
  ): Buffer {
    const now = this.data.get(key);
    if (now === undefined) {
      if (expected.length) return expected;
      this.put(key, Buffer.from(desired));
      return desired;
    }
    if (now.equals(expected)) {
      this.put(key, Buffer.from(desired));
      return desired;
    }
    return now;
  }

  private put(key: string, value: Buffer): void {
    this.data.set(key, value);
    for (const w of this.waiters) if (w.keys.every((k) => this.data.has(k))) this.answer(w);
  }

  /** get / wait: answer when every key exists, or time out after waitMs (0 = no bound). */
  private await(socket: Socket, code: number, waitMs: number, keys: string[]): void {
    const w: Waiter = { keys, socket, code };
    if (keys.every((k) => this.data.has(k))) return this.answer(w);
    if (waitMs > 0)
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        this.reply(socket, Reply.timeout, [
          `waited ${waitMs / 1000} s for ${keys.join(', ')} in the rendezvous store`,
        ]);
      }, waitMs);
    this.waiters.add(w);
  }

  private answer(w: Waiter): void {
    clearTimeout(w.timer);
    this.waiters.delete(w);
    const value = w.code === StoreOp.get ? [this.data.get(w.keys[0] as string) as Buffer] : [];
    this.reply(w.socket, Reply.ok, value);
  }
}
