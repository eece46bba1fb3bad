// Process-wide libtorch thread control: how many intra-op threads the addon's compute thread uses.
import { availableParallelism } from 'node:os';
import { EngineError } from './errors.js';
import { loadAddon } from './native.js';

/** Sets libtorch's intra-op thread count for the process (applied in every worker thread). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new EngineError('ENGINE_BAD_INPUT', `threads must be a positive integer (got ${n})`);
  }
  loadAddon().setNumThreads(n);
}

/** libtorch's intra-op thread count. */
export function getNumThreads(): number {
  return loadAddon().getNumThreads();
}

/**
 * Threads this process may give libtorch: DISTML_THREADS when set — the cores a workflow step was granted, or
 * a launcher's share for one worker — else every core. Oversubscribing the cores with OpenMP teams that spin
 * while they wait makes everyone on the machine slower, so commands default to this, not to all cores.
 */
export function threadBudget(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['DISTML_THREADS'];
  if (raw === undefined || raw === '') return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new EngineError(
      'ENGINE_BAD_INPUT',
      `DISTML_THREADS must be a positive integer (got ${JSON.stringify(raw)}); unset it to use every core`,
    );
  }
  return n;
}
