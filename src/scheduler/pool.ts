import { fifo, type QueuePolicy, type ResourceRequest, type Waiter } from './policy.js';

import { SchedulerError } from './errors.js';

export interface PoolOptions {
  /** Total cores steps may hold at once. */
  cores: number;
  /** Total memory in bytes steps may hold at once. */
  memory: number;
  /** Who goes first when resources free up. Default FIFO. */
  policy?: QueuePolicy;
}

/** Gives resources back to the pool; calling it twice is harmless. */
export type Release = () => void;

/** The local machine's cores and memory, handed to steps by a queueing policy. */
export class ResourcePool {
  private free: ResourceRequest;
  private queue: (Waiter & { grant: (r: Release) => void })[] = [];
  private nextId = 1;
  readonly policy: QueuePolicy;

  constructor(readonly options: PoolOptions) {
    this.free = { cores: options.cores, memory: options.memory };
    this.policy = options.policy ?? fifo;
  }

  /** Resources not held by anyone right now. */
  get available(): ResourceRequest {
    return { ...this.free };
  }

  /** Requests still waiting. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Waits until the policy admits the request; resolves with its release function. A request for nothing
   * (no cores, no memory: a short client step, a server that only waits for work) starts at once: it takes
   * nothing from the head of the queue, and making it wait behind a large request would only delay work
   * that could run now — in the book's pipeline, the model server waited for every training to start.
   */
  acquire(owner: string, request: ResourceRequest, signal?: AbortSignal): Promise<Release> {
    if (request.cores <= 0 && request.memory <= 0) return Promise.resolve(() => undefined);
    if (request.cores > this.options.cores || request.memory > this.options.memory) {
      return Promise.reject(
        new SchedulerError(
          'REQUEST_EXCEEDS_CAPACITY',
          `${owner} asks for ${request.cores} cores and ${request.memory} bytes, more than the pool has (${this.options.cores} cores, ${this.options.memory} bytes)`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.queue.push({ id, owner, request, enqueuedAt: Date.now(), grant: resolve });
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.queue.findIndex((w) => w.id === id);
          if (i < 0) return;
          this.queue.splice(i, 1);
          reject(new SchedulerError('REQUEST_ABORTED', `${owner} stopped waiting for resources`));
          this.dispatch();
        },
        { once: true },
      );
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const w of this.policy.pick(this.queue, this.free)) {
      this.queue = this.queue.filter((q) => q.id !== w.id);
      this.free.cores -= w.request.cores;
      this.free.memory -= w.request.memory;
      let released = false;
      const waiter = w as Waiter & { grant: (r: Release) => void };
      waiter.grant(() => {
        if (released) return;
        released = true;
        this.free.cores += w.request.cores;
        this.free.memory += w.request.memory;
        this.dispatch();
      });
    }
  }
}
