// PNG decoding on worker threads. pngjs is JavaScript: inflating one 4096x4096 PNG takes ~0.3 s of CPU, and
// on the event loop that stalls health checks and every other request (40 of them stalled a server 14 s).
// Why threads and not libpng in the addon: the PNG path keeps exactly the pixels pngjs gives (16-bit and
// palette expansion, BT.601 luma, no gamma), there is no new system library to install, and the libuv pool
// stays free for JPEG decodes and file I/O. A worker that dies is replaced; its task fails with a 500.
import { Worker } from 'node:worker_threads';
import { badRequest, ServeError } from '../errors.js';
import type { PngAnswer, PngTask } from './png-worker.js';

interface Task {
  bytes: Uint8Array;
  size: number;
  signal: AbortSignal | undefined;
  resolve: (values: Float32Array) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  task: (Task & { id: number }) | undefined;
}

/** A fixed number of PNG decode threads with one FIFO queue; started on first use, ended by close(). */
export class PngPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly threads = 1) {}

  /** PNG bytes → `size`×`size` inputs in [0, 1]. Skipped (rejected) if `signal` aborts while queued. */
  decode(bytes: Uint8Array, size: number, signal?: AbortSignal): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new ServeError('SERVE_NOT_READY', 'the server is stopping'));
    return new Promise((resolve, reject) => {
      this.queue.push({ bytes, size, signal, resolve, reject });
      this.pump();
    });
  }

  /** Ends every thread; queued and running decodes fail. */
  async close(): Promise<void> {
    this.closed = true;
    const stopping = new ServeError('SERVE_NOT_READY', 'the server is stopping');
    for (const t of this.queue.splice(0)) t.reject(stopping);
    await Promise.all(
      this.slots.splice(0).map((s) => {
        s.task?.reject(stopping);
        return s.worker.terminate();
      }),
    );
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.idleSlot();
      if (!slot) return;
      const task = this.queue.shift() as Task;
      if (task.signal?.aborted) {
        task.reject(task.signal.reason);
        continue;
      }
      slot.task = { ...task, id: this.nextId++ };
      // A copy, not a transfer: the bytes may be a view into the request's body buffer.
      slot.worker.postMessage({ id: slot.task.id, bytes: task.bytes, size: task.size } satisfies PngTask);
    }
  }

  private idleSlot(): Slot | undefined {
    const idle = this.slots.find((s) => !s.task);
    if (idle || this.slots.length >= this.threads) return idle;
    const slot: Slot = { worker: new Worker(new URL('./png-worker.js', import.meta.url)), task: undefined };
    slot.worker.unref(); // the pool's owner ends it with close(); an idle thread must not hold the process open
    slot.worker.on('message', (a: PngAnswer) => this.answer(slot, a));
    slot.worker.on('error', (err) => this.lost(slot, err.message));
    slot.worker.on('exit', (code) => this.lost(slot, `exit code ${code}`));
    this.slots.push(slot);
    return slot;
  }

  private answer(slot: Slot, a: PngAnswer): void {
    const task = slot.task;
    if (!task || task.id !== a.id) return;
    slot.task = undefined;
    if ('values' in a) task.resolve(a.values);
    else if (a.code === 'SERVE_BAD_REQUEST') task.reject(badRequest(a.error));
    else task.reject(new ServeError('SERVE_INTERNAL', `PNG decode failed: ${a.error}`));
    this.pump();
  }

  private lost(slot: Slot, why: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    slot.task?.reject(new ServeError('SERVE_INTERNAL', `the PNG decode thread died (${why})`));
    if (!this.closed) this.pump();
  }
}
