// How one attempt of a step ended, decided from its exit status and what it printed: no files written, no
// database touched, so every rule here is a unit test away. (Argo's controller does the same from the pod's
// container statuses.)
import type { NodeOutputs } from '../../metadata/index.js';
import { isPreemptedExit } from './preempt.js';

/** One attempt's end as the retry loop sees it. */
export interface Attempt {
  phase: 'Succeeded' | 'Failed' | 'Error';
  message: string | null;
  outputs: NodeOutputs;
  exitCode: number | null;
  /** A daemon that is up: settles when it exits (its cores are released then). */
  daemonExited?: Promise<unknown>;
  /** Figures a built-in step reported (accuracy, counts), recorded beside the attempt's own. */
  metrics?: Record<string, number>;
  /** Stopped for preemption (preempt.ts): requeued, not failed. */
  preempted?: boolean;
  /** Preempted before its process started (admit.ts): not an attempt; it starts once readmitted. */
  unstarted?: boolean;
}

/** How the step's process ended, with why the engine stopped it if it did. */
export interface ExitReport {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The process could not be started. */
  error?: Error;
  /** The reason the engine stopped it at a deadline (activeDeadlineSeconds, timeout), else false. */
  timedOut: string | false;
  /** A daemon stopped because it printed nothing within this many ms. */
  notReadyAfterMs?: number;
  /** The scheduler asked it to stop for preemption (StepPreemptions.preempt). */
  preempted?: boolean;
}

/**
 * The attempt's verdict when it did not exit cleanly, or undefined when it did (exit code 0: its outputs
 * decide). `stderrTail` reads its stderr log, shown when stdout holds no distml error.
 */
export function judgeExit(
  exit: ExitReport,
  o: { aborted: boolean; stdout: string; stderrTail: () => string },
): Attempt | undefined {
  if (exit.error)
    return { phase: 'Error', message: `cannot start: ${exit.error.message}`, outputs: {}, exitCode: null };
  if (o.aborted) return { phase: 'Failed', message: 'stopped', outputs: {}, exitCode: exit.code };
  if (exit.notReadyAfterMs !== undefined) {
    return {
      phase: 'Failed',
      message: `not ready within ${exit.notReadyAfterMs / 1000}s (a daemon is ready once it prints a line on stdout); stopped it`,
      outputs: {},
      exitCode: exit.code,
    };
  }
  // Asked to stop for preemption: a checkpointed stop (PREEMPTED_EXIT_CODE) or a kill at the grace's end.
  if (exit.preempted && (isPreemptedExit(exit.code) || exit.signal === 'SIGKILL'))
    return { phase: 'Failed', preempted: true, message: 'preempted', outputs: {}, exitCode: exit.code };
  if (exit.timedOut) return { phase: 'Failed', message: exit.timedOut, outputs: {}, exitCode: exit.code };
  if (exit.code !== 0) {
    const why = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    return {
      phase: 'Failed',
      message: `${why}${failureDetail(o.stdout, o.stderrTail())}`,
      outputs: { exitCode: exit.code ?? -1 },
      exitCode: exit.code,
    };
  }
  return undefined;
}

/** The distml error message from a --json result, else the last stderr line: what a user needs first. */
export function failureDetail(stdout: string, stderrTail: string): string {
  try {
    const e = (JSON.parse(stdout.trim().split('\n').pop() ?? '') as { error?: { message?: string } }).error;
    if (e?.message) return `: ${e.message}`;
  } catch {
    // not JSON
  }
  const last = stderrTail.trim().split('\n').pop() ?? '';
  return last && !last.startsWith('--- attempt') ? `: ${last.slice(0, 300)}` : '';
}
