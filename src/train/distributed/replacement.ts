// Which local workers the launcher starts again. torchrun restarts every worker when one fails; here the
// survivors keep their state and only the dead worker is replaced: the newcomer registers with the agent, is
// admitted at the next step boundary, and receives the weights, optimizer moments and trainer state by
// broadcast from rank 0 (a survivor). When no worker survived, rank 0 is a replacement itself and resumes
// from the newest checkpoint instead, which is why replacements always run with --resume.

/** How a local worker process ended. */
export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type ReplacementDecision =
  { replace: true; restarts: number; reason: string } | { replace: false; reason?: string };

/** Default for `--max-restarts`: enough to replace every worker once. */
export const defaultMaxRestarts = (workers: number): number => workers;

/**
 * Counts replacements against `--max-restarts` (every replaced worker counts one, over the whole job) and
 * decides, per exit, whether the launcher starts a new worker in the dead one's place.
 */
export class ReplacementBudget {
  private used = 0;

  constructor(private readonly maxRestarts: number) {}

  /** Replacements started so far. */
  get restarts(): number {
    return this.used;
  }

  /**
   * A clean exit means the worker finished its part (training is over); a job that is ending (result in,
   * aborted, or stopped by a signal) starts nothing new. Any other exit is a death worth replacing while the
   * budget lasts.
   */
  onExit(exit: WorkerExit, jobEnding: boolean): ReplacementDecision {
    if (exit.code === 0 || jobEnding) return { replace: false };
    const died = exit.signal ? `killed by ${exit.signal}` : `exited with code ${String(exit.code)}`;
    if (this.used >= this.maxRestarts) {
      return {
        replace: false,
        reason: `worker ${died}; not replaced: --max-restarts ${this.maxRestarts} used up`,
      };
    }
    this.used++;
    return {
      replace: true,
      restarts: this.used,
      reason: `worker ${died}; starting a replacement (${this.used} of --max-restarts ${this.maxRestarts})`,
    };
  }
}
