import { EngineError, fromNative } from './errors.js';
import { loadAddon, type NativeProcessGroup, type NativeStore } from './native.js';

/** Where a store lives, the job's secret it must be shown, and how long its operations may wait. */
export interface StoreOptions {
  host: string;
  port: number;
  /** The job's secret (StoreServer refuses a connection without it). */
  secret: string;
  timeoutMs?: number;
}

async function call<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (err) {
    throw fromNative(err);
  }
}

/**
 * A client of the job's rendezvous key-value store (a StoreServer), implementing c10d's Store interface in the
 * addon so Gloo rendezvouses through it too: workers find each other through it, and the elastic agent keeps
 * membership and heartbeats in it.
 */
export class Store {
  private constructor(private readonly native: NativeStore) {}

  /** Connects to the store at host:port (retrying until the timeout) and presents the secret. */
  static async connect(o: StoreOptions): Promise<Store> {
    const native = await call(() =>
      loadAddon().NativeStore.connect({
        host: o.host,
        port: o.port,
        secret: o.secret,
        timeoutMs: o.timeoutMs ?? 30_000,
      }),
    );
    return new Store(native);
  }

  /** The store's port. */
  get port(): number {
    return this.native.port();
  }

  set(key: string, value: string): Promise<void> {
    return call(() => this.native.set(key, value));
  }

  /** The key's value, waiting up to `timeoutMs` for it to appear (the store's timeout when omitted). */
  get(key: string, timeoutMs?: number): Promise<string> {
    return call(() => this.native.get(key, timeoutMs));
  }

  /** Atomically adds `delta` to an integer key (created at 0) and returns the new value. */
  add(key: string, delta: number): Promise<number> {
    return call(() => this.native.add(key, delta));
  }

  /** True when all keys exist (does not wait). */
  check(keys: string[]): Promise<boolean> {
    return call(() => this.native.check(keys));
  }

  /** Sets `key` to `desired` if it holds `expected` (or is absent and expected is ''); returns the value now. */
  compareSet(key: string, expected: string, desired: string): Promise<string> {
    return call(() => this.native.compareSet(key, expected, desired));
  }

  deleteKey(key: string): Promise<boolean> {
    return call(() => this.native.deleteKey(key));
  }

  /** The value of `key`, or undefined when it does not exist (no waiting). */
  async tryGet(key: string): Promise<string | undefined> {
    return (await this.check([key])) ? this.get(key) : undefined;
  }
}

export interface GroupOptions {
  /** Namespace in the store; each generation of an elastic job forms its group under a new prefix. */
  prefix: string;
  rank: number;
  size: number;
  /** Bounds rendezvous and every collective: a stalled peer fails the operation after this long. */
  timeoutMs?: number;
  /** Network interface for Gloo (GLOO_SOCKET_IFNAME); `lo` for single-host jobs. */
  iface?: string;
  /** Address peers use to reach this process (alternative to iface). */
  hostname?: string;
}

/** Default bucket: 4 Mi floats (16 MiB) per allreduce call. */
export const DEFAULT_BUCKET_ELEMENTS = 4 * 1024 * 1024;

/**
 * A Gloo process group (c10d ProcessGroupGloo). Collectives work in place on Float32Arrays; a dead peer makes
 * them fail fast (connection reset), a frozen one after `timeoutMs` — with EngineError ENGINE_COMM_COLLECTIVE.
 */
export class ProcessGroup {
  private constructor(
    private native: NativeProcessGroup | undefined,
    readonly rank: number,
    readonly size: number,
    readonly prefix: string,
  ) {}

  /** Joins the group; resolves when all `size` members have joined (or fails at the timeout). */
  static async create(store: Store, o: GroupOptions): Promise<ProcessGroup> {
    if (
      !Number.isInteger(o.size) ||
      o.size < 1 ||
      !Number.isInteger(o.rank) ||
      o.rank < 0 ||
      o.rank >= o.size
    ) {
      throw new EngineError(
        'ENGINE_BAD_INPUT',
        `rank must be in [0, size) and size >= 1 (got rank ${o.rank}, size ${o.size})`,
      );
    }
    const native = await call(() =>
      loadAddon().NativeProcessGroup.create((store as unknown as { native: NativeStore }).native, {
        prefix: o.prefix,
        rank: o.rank,
        size: o.size,
        timeoutMs: o.timeoutMs ?? 30_000,
        iface: o.iface,
        hostname: o.hostname,
      }),
    );
    return new ProcessGroup(native, o.rank, o.size, o.prefix);
  }

  private live(): NativeProcessGroup {
    if (!this.native) throw new EngineError('ENGINE_COMM_CLOSED', 'the process group is closed');
    return this.native;
  }

  /** Reduces `data` across the group in place, in buckets all in flight at once. */
  async allreduce(
    data: Float32Array,
    op: 'sum' | 'avg' | 'min' | 'max' = 'avg',
    bucketElements = DEFAULT_BUCKET_ELEMENTS,
  ): Promise<void> {
    const g = this.live();
    return call(() => g.allreduce(data, op, Math.max(1, Math.floor(bucketElements))));
  }

  /** Copies root's `data` to every member, in place. */
  async broadcast(data: Float32Array, root = 0): Promise<void> {
    const g = this.live();
    return call(() => g.broadcast(data, root));
  }

  async barrier(): Promise<void> {
    const g = this.live();
    return call(() => g.barrier());
  }

  /** Leaves the group (idempotent). */
  async close(): Promise<void> {
    const g = this.native;
    this.native = undefined;
    if (g) await call(() => g.close());
  }
}
