// The elastic control file: how a running `distml train --workers N --min-workers A --max-workers B` is told
// to grow or shrink (book 6.2.3). Whoever resizes it (the scheduler through the workflow engine, or a user)
// writes `{"workers": N}` there atomically; the launcher reads it within half a second (or at once on
// SIGUSR2). A file is idempotent where signals are not: two requests never merge into one.
import { readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../../durable/index.js';
import { TrainError } from '../errors.js';

/** The control file of a training whose model package goes to `outDir` (the default of --control-file). */
export const controlFileFor = (outDir: string): string => `${outDir.replace(/\/+$/, '')}.control.json`;

/** Asks the training watching `file` to run with `workers` workers (it refuses counts outside its bounds). */
export async function requestWorkers(file: string, workers: number): Promise<void> {
  if (!Number.isInteger(workers) || workers < 1)
    throw new TrainError('TRAIN_BAD_OPTION', `workers must be a positive integer (got ${workers})`);
  await writeFileAtomic(file, `${JSON.stringify({ workers })}\n`);
}

/** The worker count a control file asks for; undefined when it asks for nothing readable. */
export function parseControl(text: string): number | undefined {
  try {
    const n = (JSON.parse(text) as { workers?: unknown }).workers;
    return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined; // not JSON: a hand-written file being edited; the next write counts
  }
}

/**
 * Watches the elastic control file: each new `{"workers": N}` written after the launch (by requestWorkers,
 * atomically) is passed on once. A file older than the launch is a leftover of an earlier job: ignored.
 */
export class ControlWatch {
  private timer: NodeJS.Timeout | undefined;
  private seen: number;

  constructor(
    private readonly file: string,
    private readonly pollMs: number,
    private readonly onWorkers: (n: number) => void,
  ) {
    this.seen = Date.now();
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.pollMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  check(): void {
    let mtime: number;
    let text: string;
    try {
      mtime = statSync(this.file).mtimeMs;
      if (mtime <= this.seen) return;
      text = readFileSync(this.file, 'utf8');
    } catch {
      return; // no request (yet)
    }
    this.seen = mtime;
    const n = parseControl(text);
    if (n !== undefined) this.onWorkers(n);
  }
}
