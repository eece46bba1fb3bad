// The CLI side of checkpoint-aware preemption (train/preemption.ts): SIGTERM asks a training to checkpoint
// at its next step boundary and stop within --preempt-grace; it then exits PREEMPTED_EXIT_CODE after
// recording where it stopped, and the next start with the same checkpoint dir resumes from there.
import {
  clearPreempted,
  latestCheckpoint,
  markPreempted,
  PREEMPTED_EXIT_CODE,
  readPreempted,
  type PreemptionRecord,
} from '../../../train/index.js';
import type { Output } from '../../output.js';

export interface PreemptWatch {
  /** Aborted on SIGTERM. */
  signal: AbortSignal;
  dispose(): void;
}

/**
 * Turns SIGTERM into a preemption request. With `graceMs`, the process stops on its own when the grace
 * period ends before the training reached a step boundary (its newest checkpoint is the resume point).
 */
export function watchPreemption(out: Output, checkpointDir: string, graceMs?: number): PreemptWatch {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onTerm = () => {
    if (controller.signal.aborted) return;
    controller.abort(new Error('SIGTERM'));
    out.event({ event: 'preempt-requested', reason: 'SIGTERM', graceMs: graceMs ?? null });
    if (graceMs === undefined) return;
    timer = setTimeout(() => void stopAfterGrace(out, checkpointDir, graceMs), graceMs);
  };
  process.on('SIGTERM', onTerm);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      process.removeListener('SIGTERM', onTerm);
    },
  };
}

/** The grace period ended mid-step: record the newest checkpoint as the resume point and stop now. */
async function stopAfterGrace(out: Output, checkpointDir: string, graceMs: number): Promise<never> {
  const record: PreemptionRecord = {
    at: new Date().toISOString(),
    reason: `SIGTERM; the grace period (${graceMs / 1000} s) ended before a step boundary`,
    checkpoint: (await latestCheckpoint(checkpointDir)) ?? null,
    checkpointed: false,
    epoch: -1,
    stepInEpoch: -1,
    globalStep: -1,
  };
  await reportPreempted(out, checkpointDir, record);
  // The training is mid-step in native code and cannot be interrupted: leaving is the contract of the grace.
  process.exit(PREEMPTED_EXIT_CODE);
}

/** Records the preemption beside the checkpoints, says so (event and result), and returns the exit code. */
export async function reportPreempted(
  out: Output,
  checkpointDir: string,
  record: PreemptionRecord,
): Promise<number> {
  await markPreempted(checkpointDir, record);
  out.event({ event: 'preempted', ...record });
  out.result(
    { preempted: true, ...record, checkpointDir },
    () =>
      `preempted at epoch ${record.epoch + 1}, step ${record.stepInEpoch}; ` +
      `checkpoint ${record.checkpoint ?? 'none'}; run the same command again to resume`,
  );
  return PREEMPTED_EXIT_CODE;
}

/** A preemption recorded in the checkpoint dir means this start resumes from it; says so. */
export function resumesAfterPreemption(out: Output, checkpointDir: string): boolean {
  const prior = readPreempted(checkpointDir);
  if (!prior) return false;
  out.event({ event: 'resuming-after-preemption', checkpoint: prior.checkpoint, preemptedAt: prior.at });
  return true;
}

/** The training finished: a later start with this checkpoint dir is a new training. */
export const finishedAfterPreemption = (checkpointDir: string): void => clearPreempted(checkpointDir);
