// The elastic control file: how a running `distml train --workers N --min-workers A --max-workers B` is told
// to grow or shrink (book 6.2.3). Whoever resizes it (the scheduler through the workflow engine, or a user)
// writes `{"workers": N}` there atomically; the launcher reads it within half a second (or at once on
// SIGUSR2). A file is idempotent where signals are not: two requests never merge into one.
//
// Two kinds of request. A user's `{"workers": N}` is one-shot: only one written after the launch counts (an
// older one is a leftover of an earlier job). The scheduler's `{"workers": N, "lease": ID}` is standing: the
// size its lease grants, written when the lease is granted (before the training starts), on every resize and
// on readmission, and removed when the lease ends. A training that starts while one is there starts with that
// many workers: a retried or resumed attempt under the same lease runs with what the lease holds.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../../durable/index.js';
import { TrainError } from '../errors.js';

/** The control file of a training whose model package goes to `outDir` (the default of --control-file). */
export const controlFileFor = (outDir: string): string => `${outDir.replace(/\/+$/, '')}.control.json`;

/** What a control file asks for. */
export interface ControlRequest {
  workers: number;
  /** The scheduler lease granting this size: a standing request (see above). */
  lease?: string;
}

/**
 * Asks the training watching `file` to run with `workers` workers (it refuses counts outside its bounds).
 * With `lease`, the request stands for every training started there until `withdrawRequest`.
 */
export async function requestWorkers(file: string, workers: number, lease?: string): Promise<void> {
  if (!Number.isInteger(workers) || workers < 1)
    throw new TrainError('TRAIN_BAD_OPTION', `workers must be a positive integer (got ${workers})`);
  const request: ControlRequest = lease === undefined ? { workers } : { workers, lease };
  await writeFileAtomic(file, `${JSON.stringify(request)}\n`);
}

/** Removes a standing request (its lease ended): a later training there starts with its own --workers. */
export function withdrawRequest(file: string): void {
  rmSync(file, { force: true });
}

/** The request a control file holds; undefined when it asks for nothing readable. */
export function parseControl(text: string): ControlRequest | undefined {
  try {
    const o = JSON.parse(text) as { workers?: unknown; lease?: unknown };
    if (typeof o.workers !== 'number' || !Number.isInteger(o.workers)) return undefined;
    return typeof o.lease === 'string' ? { workers: o.workers, lease: o.lease } : { workers: o.workers };
  } catch {
    return undefined; // not JSON: a hand-written file being edited; the next write counts
  }
}

/** Which write of the file this is: every atomic write is a new inode, even within one mtime tick. */
function identity(file: string): string | undefined {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.mtimeMs}:${s.ctimeMs}:${s.size}`;
  } catch {
    return undefined; // no request (yet)
  }
}

function read(file: string): ControlRequest | undefined {
  try {
    return parseControl(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Watches the elastic control file: each new request written after the launch is passed on once. What the
 * file holds at the launch is a leftover, except a standing request: `standing` is the size to start with.
 */
export class ControlWatch {
  private timer: NodeJS.Timeout | undefined;
  private seen: string | undefined;
  /** The standing request present at the launch, if any. */
  readonly standing: ControlRequest | undefined;
  private onWorkers: ((n: number) => void) | undefined;

  constructor(
    private readonly file: string,
    private readonly pollMs: number,
  ) {
    this.seen = identity(file);
    const at = read(file);
    this.standing = at?.lease !== undefined ? at : undefined;
  }

  start(onWorkers: (n: number) => void): void {
    this.onWorkers = onWorkers;
    this.timer = setInterval(() => this.check(), this.pollMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Passes on a new request now (SIGUSR2); nothing before `start`, so no request is consumed unheard. */
  check(): void {
    if (!this.onWorkers) return;
    const id = identity(this.file);
    if (id === undefined || id === this.seen) return;
    this.seen = id;
    const n = read(this.file)?.workers;
    if (n !== undefined) this.onWorkers(n);
  }
}
