// One PNG decode thread (see png-pool.ts): PNG bytes in, the model's 28×28 input out, or the error's message.
import { parentPort } from 'node:worker_threads';
import { ServeError } from '../errors.js';
import { pngToInput } from './png.js';

export interface PngTask {
  id: number;
  bytes: Uint8Array;
  size: number;
}

export type PngAnswer =
  { id: number; values: Float32Array } | { id: number; error: string; code: string | undefined };

parentPort?.on('message', (task: PngTask) => {
  const values = new Float32Array(task.size * task.size);
  try {
    pngToInput(task.bytes, values, 0, task.size);
    parentPort?.postMessage({ id: task.id, values } satisfies PngAnswer, [values.buffer]);
  } catch (err) {
    const code = err instanceof ServeError ? err.code : undefined;
    parentPort?.postMessage({
      id: task.id,
      error: (err as Error)?.message ?? String(err),
      code,
    } satisfies PngAnswer);
  }
});
