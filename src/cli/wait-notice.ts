import type { Output } from './output.js';

/** Waits shorter than this stay quiet: most are over before a person would wonder. */
export const QUIET_WAIT_MS = 3000;
/** After the first notice, a wait that goes on is mentioned again this often: alive, not noisy. */
export const WAIT_REPEAT_MS = 30_000;

export interface WaitNoticeOptions {
  /** What is waited for and where, e.g. `a loadable version of fmnist in /repo/fmnist/<version>/`. */
  what: () => string;
  /** Fields of the `--json` event (`{"event":"waiting", ...}`). */
  fields?: () => Record<string, unknown>;
  firstAfterMs?: number;
  everyMs?: number;
}

/**
 * Says what a wait is for once it has lasted `firstAfterMs`, then every `everyMs`, until the returned
 * function is called: no wait is silent, and a short one is not announced.
 */
export function noticeWait(out: Output, o: WaitNoticeOptions): () => void {
  const started = Date.now();
  const say = () => {
    const seconds = Math.round((Date.now() - started) / 1000);
    if (out.json) out.event({ event: 'waiting', for: o.what(), seconds, ...(o.fields?.() ?? {}) });
    else out.info(`waiting for ${o.what()} (${seconds} s so far)`);
  };
  let repeat: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    say();
    repeat = setInterval(say, o.everyMs ?? WAIT_REPEAT_MS);
    repeat.unref();
  }, o.firstAfterMs ?? QUIET_WAIT_MS);
  first.unref();
  return () => {
    clearTimeout(first);
    clearInterval(repeat);
  };
}

/** Runs `work` with a wait notice around it: what it waits for is said if it takes more than a few seconds. */
export async function announcedWait<T>(
  out: Output,
  what: string,
  work: () => Promise<T>,
  fields?: Record<string, unknown>,
): Promise<T> {
  const done = noticeWait(out, { what: () => what, fields: () => fields ?? {} });
  try {
    return await work();
  } finally {
    done();
  }
}
