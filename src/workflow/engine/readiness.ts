// A daemon step is ready once it printed a whole first line on stdout (Argo's daemon steps are ready when
// their readiness probe passes; a line is our probe). The log is followed from where the last look ended,
// so a chatty server's growing log is never read twice.
import { closeSync, openSync, readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StepProcess } from './process.js';
import type { ExitReport } from './verdict.js';

/** How often the log is looked at while the daemon starts. */
const LOOK_MS = 100;
const CHUNK = 4096;

/** Reads a growing file from where the previous call stopped; `hasNewline` says whether a line ended yet. */
export class LineWatch {
  private offset = 0;
  private seen = false;
  constructor(private readonly path: string) {}

  /** True once the file holds a newline; reads only bytes not read before. */
  hasNewline(): boolean {
    if (this.seen) return true;
    let fd;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return false; // not created yet
    }
    try {
      const buf = Buffer.alloc(CHUNK);
      for (let n; (n = readSync(fd, buf, 0, CHUNK, this.offset)) > 0;) {
        this.offset += n;
        if (buf.subarray(0, n).includes(0x0a)) return (this.seen = true);
      }
      return false;
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Waits for a daemon's first stdout line. It failed if it exited before, or if the run is stopped or the
 * readiness deadline passes first (then it is stopped: SIGTERM, SIGKILL after 5 s).
 */
export async function waitReady(
  proc: StepProcess,
  stdoutPath: string,
  o: { signal: AbortSignal; timeoutMs: number },
): Promise<'ready' | ExitReport> {
  let exited: Awaited<StepProcess['exited']> | undefined;
  void proc.exited.then((s) => (exited = s));
  const watch = new LineWatch(stdoutPath);
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    if (watch.hasNewline()) return 'ready';
    if (exited) return { ...exited, timedOut: false };
    if (o.signal.aborted || Date.now() > deadline) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const status = await proc.exited;
      clearTimeout(timer);
      return { ...status, timedOut: false, ...(o.signal.aborted ? {} : { notReadyAfterMs: o.timeoutMs }) };
    }
    await sleep(LOOK_MS);
  }
}
