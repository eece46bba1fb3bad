import { EngineError } from '../../engine/index.js';

/** A step whose allreduce failed: this generation is over for this worker (already reported). */
export class Abandon extends Error {}

/**
 * What a worker does when a generation fails. A peer lost while forming, syncing or stepping fails the
 * generation (the agent re-forms the group and the worker follows it), unless generations keep failing in a
 * row: then the worker gives up with the last error. Anything else (a bug, bad data) is not retried.
 */
export class FailurePolicy {
  private inARow = 0;

  constructor(private readonly maxFailedGenerations: number) {}

  /** True for the failures a new generation can cure: a lost peer (COMM_*) or an abandoned step. */
  static recoverable(err: unknown): boolean {
    return err instanceof Abandon || isCommFailure(err);
  }

  /** A generation trained without failing: the count starts again. */
  succeeded(): void {
    this.inARow = 0;
  }

  /** Records a failed generation; rethrows `err` when it is not recoverable or the limit is passed. */
  failed(err: unknown): void {
    if (!FailurePolicy.recoverable(err)) throw err;
    if (++this.inARow > this.maxFailedGenerations) throw err;
  }
}

/** A collective or rendezvous failed because a peer went away (the engine's COMM_* codes). */
export const isCommFailure = (err: unknown): boolean =>
  err instanceof EngineError && err.code.startsWith('ENGINE_COMM_');
