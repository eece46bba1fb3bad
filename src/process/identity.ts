import { readdirSync, readFileSync } from 'node:fs';

/**
 * A process as the kernel knows it: its pid and its start time (clock ticks since boot, field 22 of
 * /proc/PID/stat). A pid alone can be reused by an unrelated process once ours has exited; the pair cannot.
 */
export interface ProcessRef {
  pid: number;
  startTime: number;
}

/** Start time of a live process (not a zombie), or null when there is none or /proc is unavailable. */
export function startTimeOf(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  if (state === 'Z' || state === 'X') return null;
  const start = Number(fields[22 - 3]);
  return Number.isFinite(start) ? start : null;
}

/** The ref of a live process, or null. */
export function processRef(pid: number | undefined | null): ProcessRef | null {
  if (!pid) return null;
  const startTime = startTimeOf(pid);
  return startTime === null ? null : { pid, startTime };
}

/** True while the very process `ref` names is running (a reused pid does not count). */
export function isRunning(ref: ProcessRef): boolean {
  return startTimeOf(ref.pid) === ref.startTime;
}

/** The command line of a process (arguments joined by spaces), or '' when it cannot be read. */
export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/**
 * Every live process whose environment holds `NAME=VALUE` with VALUE starting with `valuePrefix`: the
 * processes of a run or a step, found by the marker their owner put in their environment, however deep they
 * are below it. Linux /proc only (elsewhere none are found); processes of other users are not readable.
 */
export function findByEnv(name: string, valuePrefix: string): ProcessRef[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return [];
  }
  const needle = `\0${name}=${valuePrefix}`;
  const found: ProcessRef[] = [];
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    try {
      if (!`\0${readFileSync(`/proc/${p}/environ`, 'latin1')}`.includes(needle)) continue;
    } catch {
      continue; // gone, or not ours
    }
    const ref = processRef(pid);
    if (ref) found.push(ref);
  }
  return found;
}
