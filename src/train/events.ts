// The training event streams (`distml train --workers N --json` prints each as a JSON line): one declaration
// per event name, so the CLI's describers are exhaustive and README's list (## Events) can be checked.
import type { SkippedCheckpoint } from './checkpoint.js';
import type { MembershipChange } from './distributed/protocol.js';

/** What an allreduce worker reports (also relayed by its launcher from the worker's JSON lines). */
export type WorkerEvent =
  | { event: 'generation'; generation: number; rank: number; worldSize: number; reason: string }
  | { event: 'generation-failed'; generation: number; reason: string }
  | ({ event: 'checkpoint-skipped' } & SkippedCheckpoint)
  | { event: 'epoch-begin'; epoch: number }
  | { event: 'step-abandoned'; generation: number; reason: string }
  | { event: 'replica-mismatch'; epoch: number }
  /** An elastic shrink asked this worker to leave; it stops at the step boundary. */
  | { event: 'worker-dismissed'; worker: string };

/** What the allreduce launcher reports about the group it runs. */
export type LauncherEvent =
  | { event: 'rendezvous'; masterAddr: string; masterPort: number }
  | ({ event: 'membership'; members: string[] } & MembershipChange)
  | { event: 'worker-killed'; worker: string; reason: string }
  /** A worker's `{"error": {code, message}}` line. */
  | { event: 'worker-error'; worker: string; error?: { code: string; message: string } }
  | { event: 'worker-not-replaced'; worker: string; reason: string }
  | { event: 'worker-replaced'; worker: string; by: string | undefined; reason: string; restarts: number }
  /** SIGTERM (preemption): the job checkpoints at the next step boundary within graceMs. */
  | { event: 'preempt-requested'; reason: string; graceMs: number }
  /** No step boundary came within the grace: the workers are stopped. */
  | { event: 'preempt-grace-expired'; graceMs: number }
  /** The control file asked for a worker count outside [--min-workers, --max-workers]. */
  | { event: 'resize-refused'; workers: number; reason: string }
  /** The control file asked for `workers`; `started` are the new workers' ids (none on a shrink). */
  | { event: 'resize'; workers: number; from: number; started: (string | undefined)[] }
  /** A worker dismissed by a shrink exited (it is not replaced). */
  | { event: 'worker-left'; worker: string; code: number | null };

/** Every event of allreduce training. */
export type TrainEvent = WorkerEvent | LauncherEvent;

/** What the parameter-server strategy reports: a server that is up (launcher) or listening (the server). */
export type PsEvent =
  | { event: 'ps-server'; index: number; host: string; port: number; start?: number; end?: number }
  | { event: 'ps-listening'; index: number; port: number };
