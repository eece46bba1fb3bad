import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { MetadataStore, RunRecord } from '../../metadata/index.js';
import {
  commandLineOf,
  findByEnv,
  isRunning,
  processRef,
  spawnOwned,
  terminate,
  type ProcessRef,
} from '../../process/index.js';

export interface ProcessSpec {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdoutPath: string;
  stderrPath: string;
  /** Header written to the stderr log before this attempt's output. */
  banner: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The process could not be started (e.g. executable not found). */
  error?: Error;
}

export interface StepProcess {
  pid: number | undefined;
  /** pid and start time, as recorded in the run state (null when it could not be started). */
  ref: ProcessRef | null;
  exited: Promise<ExitStatus>;
  /** Signals the step's whole process group (the step and anything it started). */
  kill(signal: NodeJS.Signals): void;
  /** Highest resident set size seen while it ran, in bytes (sampled every second). */
  peakRss(): number;
}

/** Env var that marks every process of a step, so a later engine can find and reap orphans. */
export const NODE_KEY_ENV = 'DISTML_NODE_KEY';

/**
 * Starts a step in its own process group with stdout and stderr going straight to files, so the step's
 * output survives the engine and `outputs.result` is read from the file after exit. The step dies with the
 * engine however the engine dies (spawnOwned); what the step starts is the step's to own.
 */
export function startProcess(spec: ProcessSpec): StepProcess {
  const out = openSync(spec.stdoutPath, 'w');
  const err = openSync(spec.stderrPath, 'a');
  writeSync(err, spec.banner);
  const [cmd, ...args] = spec.argv as [string, ...string[]];
  const child = spawnOwned(cmd, args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['ignore', out, err],
    detached: true,
  });
  closeSync(out);
  closeSync(err);
  const ref = processRef(child.pid);
  let peak = 0;
  const sample = () => {
    const rss = child.pid ? readRss(child.pid) : 0;
    if (rss > peak) peak = rss;
  };
  const timer = setInterval(sample, 1000);
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('error', (error) => {
      clearInterval(timer);
      resolve({ code: null, signal: null, error });
    });
    child.once('exit', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal });
    });
  });
  return {
    pid: child.pid,
    ref,
    exited,
    kill: (signal) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is already gone
      }
    },
    peakRss: () => {
      sample();
      return peak;
    },
  };
}

function readRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Ends every process of a run whose engine is gone or stopping: each recorded step process with its process
 * group (only while pid and start time still match), and anything else still carrying the run's node-key
 * marker, daemons and their replicas included. SIGTERM, then SIGKILL after `graceMs`. Returns how many.
 */
export async function reapRunProcesses(store: MetadataStore, run: string, graceMs?: number): Promise<number> {
  const refs = new Map<number, ProcessRef>();
  for (const n of store.listNodes(run)) {
    if (n.pid !== null && n.pidStart !== null) refs.set(n.pid, { pid: n.pid, startTime: n.pidStart });
  }
  for (const r of findByEnv(NODE_KEY_ENV, `${run}/`)) refs.set(r.pid, r);
  const live = [...refs.values()].filter(isRunning);
  await terminate(live, { graceMs, groups: true });
  return live.length;
}

/** True when the run's engine still runs: the same pid and start time (not a recycled pid). */
export function isEngineAlive(run: Pick<RunRecord, 'enginePid' | 'engineStart'>): boolean {
  const pid = run.enginePid;
  if (!pid) return false;
  if (run.engineStart !== null) return isRunning({ pid, startTime: run.engineStart });
  // A run recorded before start times were: fall back to the command line.
  const cmd = processRef(pid) ? commandLineOf(pid) : '';
  return cmd.includes('main.js') || cmd.includes('distml');
}
