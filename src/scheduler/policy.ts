/** What a step asks of the local machine before it may start. */
export interface ResourceRequest {
  /** CPU cores (fractions allowed). */
  cores: number;
  /** Memory in bytes. */
  memory: number;
}

/** One waiting request, as a queueing policy sees it. */
export interface Waiter {
  id: number;
  /** Who asked (a run/node id), for policies that share by owner. */
  owner: string;
  request: ResourceRequest;
  enqueuedAt: number;
}

/**
 * Decides which waiting requests start when resources free up. `pick` gets the queue in arrival order and
 * what is free, and returns the waiters to admit now (each must fit in what remains).
 */
export interface QueuePolicy {
  readonly name: string;
  pick(queue: readonly Waiter[], free: ResourceRequest): Waiter[];
}

const fits = (r: ResourceRequest, free: ResourceRequest): boolean =>
  r.cores <= free.cores + 1e-9 && r.memory <= free.memory;

/** First in, first out: the head of the queue starts first, and nobody overtakes a head that does not fit. */
export const fifo: QueuePolicy = {
  name: 'fifo',
  pick(queue, free) {
    const admitted: Waiter[] = [];
    const left = { ...free };
    for (const w of queue) {
      if (!fits(w.request, left)) break;
      admitted.push(w);
      left.cores -= w.request.cores;
      left.memory -= w.request.memory;
    }
    return admitted;
  },
};
