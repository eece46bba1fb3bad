import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';

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
 * output survives the engine and `outputs.result` is read from the file after exit.
 */
export function startProcess(spec: ProcessSpec): StepProcess {
  const out = openSync(spec.stdoutPath, 'w');
  const err = openSync(spec.stderrPath, 'a');
  writeSync(err, spec.banner);
  const [cmd, ...args] = spec.argv as [string, ...string[]];
  const child = spawn(cmd, args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['ignore', out, err],
    detached: true,
  });
  closeSync(out);
  closeSync(err);
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
 * Kills every process still carrying a step's node key (its env var): the orphans of an engine that was
 * killed. Returns how many were signalled. Linux /proc only; elsewhere nothing is found.
 */
export function reapNodeProcesses(nodeKey: string): number {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return 0;
  }
  const marker = `${NODE_KEY_ENV}=${nodeKey}\0`;
  let n = 0;
  for (const p of pids) {
    try {
      if (!readFileSync(`/proc/${p}/environ`, 'latin1').includes(marker)) continue;
      process.kill(Number(p), 'SIGKILL');
      n++;
    } catch {
      // gone, or not ours
    }
  }
  return n;
}

/** True when `pid` is a live distml engine (not a recycled pid). */
export function isEngineAlive(pid: number | null): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('main.js') || cmd.includes('distml');
  } catch {
    return true;
  }
}
