// Dynamic batching: requests that arrive close together share one forward pass. A batch starts when the model
// is idle and either the queue holds `maxBatch` examples or the oldest request has waited `maxDelayMs`;
// requests that arrive while a batch runs wait for the next one, so under load batches grow by themselves.
// When a forward pass ends, the next batch is handed to the model before the finished one's answers are
// written, so the model computes while the event loop serialises responses.
// The queue is bounded (`maxQueue` examples) and every request has a deadline to start (`deadlineMs`): past
// either the answer is a 503 with Retry-After instead of an ever longer wait, and a request whose client has
// gone (its signal aborted) leaves the queue before it is computed.
import { overloaded } from './errors.js';

/** Runs the model on `count` examples laid out back to back; returns `count × outputs` values. */
export type PredictFn = (inputs: Float32Array, count: number) => Promise<Float32Array>;

export interface BatcherOptions {
  /** Most examples in one forward pass (one request larger than this runs alone). Default 64. */
  maxBatch?: number;
  /** Longest a request waits for company while the model is idle. Default 0: run at once. */
  maxDelayMs?: number;
  /** Most examples waiting for the model; a request beyond gets a 503 (a lone larger one still runs). Default 1024. */
  maxQueue?: number;
  /** Longest a request waits for its forward pass to start before a 503. Default 30 s. */
  deadlineMs?: number;
  /** Values per input example (784) and per output example (10). */
  inputSize: number;
  outputSize: number;
  /** Observes every batch: examples in it and seconds the forward pass took. */
  onBatch?: (examples: number, seconds: number) => void;
}

interface Pending {
  inputs: Float32Array;
  count: number;
  since: number;
  resolve: (out: Float32Array) => void;
  reject: (err: unknown) => void;
  /** Ends the wait: the deadline timer and the abort listener. */
  settle: () => void;
}

export const DEFAULT_MAX_QUEUE = 1024;
export const DEFAULT_QUEUE_DEADLINE_MS = 30_000;

/** Coalesces concurrent predictions for one model into batched `predict` calls, one at a time. */
export class DynamicBatcher {
  private readonly queue: Pending[] = [];
  private queued = 0;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly maxQueue: number;
  private readonly deadlineMs: number;

  constructor(
    private readonly predict: PredictFn,
    private readonly opts: BatcherOptions,
  ) {
    this.maxBatch = opts.maxBatch ?? 64;
    this.maxDelayMs = opts.maxDelayMs ?? 0;
    this.maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_QUEUE_DEADLINE_MS;
  }

  /** Examples queued or running. */
  get pending(): number {
    return this.queued + (this.running ? 1 : 0);
  }

  /**
   * Queues `inputs` (a whole number of examples) and resolves with their outputs. Rejects with a 503 when the
   * queue is full or the deadline passes first, and with `signal.reason` when `signal` aborts first.
   */
  submit(inputs: Float32Array, signal?: AbortSignal): Promise<Float32Array> {
    const count = inputs.length / this.opts.inputSize;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.queued > 0 && this.queued + count > this.maxQueue) {
      return Promise.reject(
        overloaded(
          `the model's queue is full (${this.queued} examples waiting, at most ${this.maxQueue}: --max-queue); retry shortly`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const p: Pending = { inputs, count, since: performance.now(), resolve, reject, settle: () => {} };
      const timer = setTimeout(
        () =>
          this.drop(
            p,
            overloaded(
              `the request waited ${this.deadlineMs} ms for the model without starting (--queue-deadline); retry shortly`,
            ),
          ),
        this.deadlineMs,
      );
      const onAbort = () => this.drop(p, signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      p.settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.queue.push(p);
      this.queued += count;
      this.schedule();
    });
  }

  /** Takes a waiting request out of the queue and fails it (no-op once its batch has started). */
  private drop(p: Pending, err: unknown): void {
    const i = this.queue.indexOf(p);
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.queued -= p.count;
    p.settle();
    p.reject(err);
    if (!this.running) this.schedule();
  }

  /** Resolves once nothing is queued or running (requests submitted before the call are answered). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running) return;
    const oldest = this.queue[0];
    if (!oldest) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    const wait = oldest.since + this.maxDelayMs - performance.now();
    if (this.queued >= this.maxBatch || wait <= 0) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, wait);
    }
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch: Pending[] = [];
    let count = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Pending;
      if (batch.length > 0 && count + next.count > this.maxBatch) break;
      batch.push(this.queue.shift() as Pending);
      next.settle();
      count += next.count;
    }
    this.queued -= count;
    this.running = true;
    void this.run(batch, count);
  }

  private async run(batch: Pending[], count: number): Promise<void> {
    const { inputSize, outputSize } = this.opts;
    const t0 = performance.now();
    let out: Float32Array | undefined;
    let failure: unknown;
    try {
      let inputs: Float32Array;
      if (batch.length === 1) inputs = (batch[0] as Pending).inputs;
      else {
        inputs = new Float32Array(count * inputSize);
        let at = 0;
        for (const p of batch) {
          inputs.set(p.inputs, at);
          at += p.inputs.length;
        }
      }
      out = await this.predict(inputs, count);
      this.opts.onBatch?.(count, (performance.now() - t0) / 1000);
    } catch (err) {
      failure = err;
    }
    // The model is free: hand it the next batch before answering this one.
    this.running = false;
    if (this.queue.length > 0) this.schedule();
    let at = 0;
    for (const p of batch) {
      if (!out) p.reject(failure);
      else p.resolve(out.subarray(at, at + p.count * outputSize));
      at += p.count * outputSize;
    }
    // Wakes idle() waiters only now that every answer of this batch is out.
    if (!this.running) this.schedule();
  }
}
