// A running step's progress as Argo shows it (`progress: N/M`), read from the JSON progress lines that
// built-in steps print on stderr (they run with --json): training steps, decoding, evaluation.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { RunContext } from './context.js';

/** How often the step's stderr log is read for new progress lines. */
const FOLLOW_MS = 1000;
/** Most bytes read per look: progress lines are short, and only the newest one matters. */
const WINDOW = 64 * 1024;

/**
 * `N/M` from one event line, or undefined: a training step's `{"event":"progress","task":"epoch 2/3",
 * "done":100,"total":938}` is the step count over the whole run (2/3 of the way: 1038/2814); any other
 * progress event is its own done/total.
 */
export function progressOf(line: string): string | undefined {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (e['event'] === 'serving') return servingProgress(e);
  if (e['event'] !== 'progress') return undefined;
  const done = Number(e['done']);
  const total = Number(e['total']);
  if (!Number.isFinite(done) || !Number.isFinite(total) || total <= 0) return undefined;
  const epoch = /^epoch (\d+)\/(\d+)$/.exec(String(e['task'] ?? ''));
  if (epoch) {
    const [at, of] = [Number(epoch[1]), Number(epoch[2])];
    return `${(at - 1) * total + Math.min(done, total)}/${of * total}`;
  }
  return `${Math.min(done, total)}/${total}`;
}

/** A server's `{"event":"serving"}` report: ready of desired replicas and the request rate. */
function servingProgress(e: Record<string, unknown>): string | undefined {
  const [ready, desired, rps] = [e['replicas'], e['desired'], e['requestsPerSecond']].map(Number);
  if (![ready, desired, rps].every((v) => Number.isFinite(v))) return undefined;
  return `${ready}/${desired} ${rps! >= 10 ? Math.round(rps!) : rps!.toFixed(1)} req/s`;
}

/** The newest progress among complete lines of `text`. */
function latest(text: string): string | undefined {
  const lines = text.split('\n').slice(0, -1);
  for (let i = lines.length - 1; i >= 0; i--) {
    const p = progressOf(lines[i] ?? '');
    if (p) return p;
  }
  return undefined;
}

/**
 * Follows a step's stderr log while it runs and saves its newest progress on the node. The returned function
 * stops following and, when the step succeeded, marks what was counted as all done (`M/M`).
 */
export function followProgress(ctx: RunContext, id: string, stderrPath: string): (ok: boolean) => void {
  // The log is appended to by every attempt: start after what earlier ones wrote.
  let offset = existsSync(stderrPath) ? statSync(stderrPath).size : 0;
  let last: string | undefined;
  const look = () => {
    let fd;
    try {
      fd = openSync(stderrPath, 'r');
      const buf = Buffer.alloc(WINDOW);
      let text = '';
      for (let n; (n = readSync(fd, buf, 0, WINDOW, offset)) > 0;) {
        const chunk = buf.subarray(0, n).toString('utf8');
        const cut = chunk.lastIndexOf('\n') + 1;
        if (cut === 0 && n < WINDOW) break; // a line still being written: read it next time
        offset += cut || n;
        text = text.slice(-WINDOW) + chunk.slice(0, cut || n);
      }
      const p = latest(text);
      if (p && p !== last) {
        last = p;
        ctx.store.updateNode(ctx.run, id, { progress: p });
      }
    } catch {
      // no log yet, or the run's database is closing: the next look (or none) will do
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
  const timer = setInterval(look, FOLLOW_MS);
  timer.unref();
  return (ok) => {
    clearInterval(timer);
    look();
    const total = /^\d+\/(\d+)$/.exec(last ?? '')?.[1];
    try {
      if (ok && total) ctx.store.updateNode(ctx.run, id, { progress: `${total}/${total}` });
    } catch {
      // a server stopped after its run's database closed: nothing left to show it to
    }
  };
}
