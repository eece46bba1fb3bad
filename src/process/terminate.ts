import { setTimeout as sleep } from 'node:timers/promises';
import { isRunning, type ProcessRef } from './identity.js';

/** How long a process may take to stop after SIGTERM before it gets SIGKILL, by default. */
export const DEFAULT_GRACE_MS = 10_000;

/**
 * Sends `signal` to the process `ref` names (or, with `group`, to the process group it leads), only while
 * that very process runs: a pid reused by another process is never signalled. True when it was sent.
 */
export function signalProcess(ref: ProcessRef, signal: NodeJS.Signals, group = false): boolean {
  if (!isRunning(ref)) return false;
  try {
    process.kill(group ? -ref.pid : ref.pid, signal);
    return true;
  } catch {
    if (!group) return false;
    return signalProcess(ref, signal, false); // not a group leader
  }
}

export interface TerminateOptions {
  /** Time between SIGTERM and SIGKILL. Default DEFAULT_GRACE_MS. */
  graceMs?: number;
  /** Signal the process groups the processes lead too (a step and everything it started). */
  groups?: boolean;
  /** Cuts the grace period short: SIGKILL at once. */
  signal?: AbortSignal;
}

/**
 * Ends processes: SIGTERM, then SIGKILL to whichever still runs after the grace period. Resolves once none
 * of them runs, or 5 s after SIGKILL.
 */
export async function terminate(refs: readonly ProcessRef[], opts: TerminateOptions = {}): Promise<void> {
  const grace = opts.graceMs ?? DEFAULT_GRACE_MS;
  for (const r of refs) signalProcess(r, 'SIGTERM', opts.groups);
  const deadline = Date.now() + grace;
  while (refs.some(isRunning) && Date.now() < deadline && !opts.signal?.aborted) await sleep(50);
  for (const r of refs) signalProcess(r, 'SIGKILL', opts.groups);
  // SIGKILL takes effect once a process leaves the kernel; bounded, so a process we may not signal cannot hang us.
  const killDeadline = Date.now() + 5000;
  while (refs.some(isRunning) && Date.now() < killDeadline) await sleep(50);
}
