// Checkpoint-aware preemption (book 6.2.2, figures 6.7–6.8), as a training process sees it. Whoever preempts
// a `distml train` (the workflow engine for the scheduler, Kubernetes, a user) sends it SIGTERM; it finishes
// the step under way, writes a checkpoint, records the preemption beside its checkpoints, and exits with
// PREEMPTED_EXIT_CODE. Started again with the same checkpoint dir, it finds the record and resumes from that
// checkpoint (no --resume needed). The grace period bounds all of this: past it the process stops anyway,
// still with PREEMPTED_EXIT_CODE (then `checkpoint` says which older checkpoint it will resume from).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../durable/index.js';

/** Exit status of a training stopped for preemption: BSD's EX_TEMPFAIL, "try again later". */
export const PREEMPTED_EXIT_CODE = 75;

/** Default of `--preempt-grace`: Kubernetes' default terminationGracePeriodSeconds. */
export const DEFAULT_PREEMPT_GRACE_MS = 30_000;

/** What a preempted training recorded: where it stopped and the checkpoint it resumes from. */
export interface PreemptionRecord {
  at: string;
  reason: string;
  /** The checkpoint written at the stop (or the newest one, if the grace period ended first). */
  checkpoint: string | null;
  /** False when the grace period ended before a step boundary: the resume point is an older checkpoint. */
  checkpointed: boolean;
  /** The 0-based epoch, its completed steps, and the steps done over the whole job, at the stop. */
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
}

const RECORD = 'preempted.json';

/** Records a preemption in the checkpoint dir, atomically: the next start resumes from it. */
export async function markPreempted(checkpointDir: string, record: PreemptionRecord): Promise<void> {
  await writeFileAtomic(join(checkpointDir, RECORD), `${JSON.stringify(record, null, 2)}\n`);
}

/** The preemption this checkpoint dir's job is to resume from, if it was preempted and not finished since. */
export function readPreempted(checkpointDir: string): PreemptionRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(checkpointDir, RECORD), 'utf8')) as PreemptionRecord;
  } catch {
    return undefined; // no record (or a torn one: writeFileAtomic never leaves one, so nothing to resume)
  }
}

/** The job finished: a later start is a new training, not a resume. */
export function clearPreempted(checkpointDir: string): void {
  rmSync(join(checkpointDir, RECORD), { force: true });
}
