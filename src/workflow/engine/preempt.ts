// The engine's entry point for checkpoint-aware preemption (issue 13; train/preemption.ts is the training's
// side). Whoever decides to preempt (the scheduler in `distml server`) calls `preemptions.preempt(owner,
// graceMs)` with the step's pool owner (`<run>/<node id>`); the engine sends the step's process group SIGTERM,
// allows graceMs (then SIGKILL), and when the step exits with PREEMPTED_EXIT_CODE it is not failed: its
// resources are released, it queues for them again (`pool.acquire`), and it starts again — a `distml train`
// resumes from the checkpoint it wrote. Preemptions never count against retryStrategy.
import { PREEMPTED_EXIT_CODE } from '../../train/index.js';
import type { StepProcess } from './process.js';

/** Extra time past the grace period before SIGKILL: the step's own exit after its checkpoint. */
const KILL_MARGIN_MS = 5000;

type OnPreempt = (graceMs: number, reason: string) => void;

/** Running steps that can be preempted, by pool owner (`<run>/<node id>`). One per engine (or server). */
export class StepPreemptions {
  private readonly running = new Map<string, OnPreempt>();

  /**
   * Asks the step `owner` to checkpoint and stop within `graceMs`; it is then requeued. False when no such
   * step's process is running (it has finished, not started yet, or waits between retries): the caller acts
   * on that (admit.ts gives the step's lease back, and the step waits for readmission before it starts).
   */
  preempt(owner: string, graceMs: number, reason = 'preempted'): boolean {
    const on = this.running.get(owner);
    on?.(graceMs, reason);
    return on !== undefined;
  }

  /** Owners of the running steps that can be preempted now. */
  owners(): string[] {
    return [...this.running.keys()];
  }

  /** The engine's side: a step's process is running; returns what to call when it has exited. */
  attach(owner: string, proc: StepProcess, onRequest: (reason: string) => void): () => void {
    let killTimer: NodeJS.Timeout | undefined;
    this.running.set(owner, (graceMs, reason) => {
      if (killTimer) return; // already asked: the first grace period stands
      onRequest(reason);
      proc.kill('SIGTERM');
      killTimer = setTimeout(() => proc.kill('SIGKILL'), graceMs + KILL_MARGIN_MS);
      killTimer.unref();
    });
    return () => {
      clearTimeout(killTimer);
      this.running.delete(owner);
    };
  }
}

/** A step asked to stop for preemption that exited with the preempted status (or was killed at the grace). */
export const isPreemptedExit = (code: number | null): boolean => code === PREEMPTED_EXIT_CODE;

export { PREEMPTED_EXIT_CODE };
