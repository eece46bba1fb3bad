// What a test run left behind: processes carrying the run's marker in their environment, the TCP ports they
// listen on, and entries in the run's own temp dir. Matching on a per-run marker (not on names or parents)
// keeps the check exact while other checkouts run their own suites on the same machine: an orphan is
// re-parented to init, but it keeps the environment it inherited.
import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The environment variable every process of a test run inherits; its value names the run. */
export const SUITE_MARKER = 'DISTML_TEST_SUITE';

export interface LeftProcess {
  pid: number;
  command: string;
  /** TCP ports it listens on (IPv4 and IPv6). */
  ports: number[];
}

export interface Leaks {
  processes: LeftProcess[];
  /** Entries left in the run's temp dir (names relative to it). */
  tempEntries: string[];
}

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined; // gone meanwhile, or not ours to read
  }
};

/** True for a zombie: it has exited and only waits to be reaped, so nothing of it is left running. */
function isZombie(pid: number): boolean {
  const stat = read(`/proc/${pid}/stat`);
  // Field 3 follows the command in parentheses, which may itself contain ") ".
  return stat === undefined || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

/** Pids of live processes whose environment holds `SUITE_MARKER=marker` (this process excluded). */
export function markedPids(marker: string): number[] {
  const needle = `\0${SUITE_MARKER}=${marker}\0`;
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const env = read(`/proc/${pid}/environ`);
    if (env !== undefined && `\0${env}`.includes(needle) && !isZombie(pid)) pids.push(pid);
  }
  return pids;
}

/** Socket inodes a process holds open. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** Ports of the listening TCP sockets among `pid`'s open sockets (state 0A in /proc/net/tcp*). */
export function listeningPorts(pid: number): number[] {
  const inodes = socketInodes(pid);
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    for (const line of (read(`/proc/${pid}/net/${table}`) ?? '').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && inodes.has(f[9] ?? '')) ports.add(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** Scans for what a run marked `marker` left: its processes (with ports) and `tempDir`'s entries. */
export function findLeaks(marker: string, tempDir?: string): Leaks {
  const processes = markedPids(marker).map((pid) => ({
    pid,
    command: (read(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean).join(' '),
    ports: listeningPorts(pid),
  }));
  let tempEntries: string[] = [];
  if (tempDir) {
    try {
      tempEntries = readdirSync(tempDir).sort();
    } catch {
      tempEntries = [];
    }
  }
  return { processes, tempEntries };
}

/** Waits until no marked process is left or `graceMs` passed (processes that are exiting get that long). */
export async function settle(marker: string, graceMs: number, pollMs = 100): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (markedPids(marker).length > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, pollMs));
}

/** SIGKILLs every marked process (again until none is left, or `graceMs` passed) and empties `tempDir`. */
export async function cleanUp(marker: string, tempDir?: string, graceMs = 10_000): Promise<void> {
  const deadline = Date.now() + graceMs;
  for (let pids = markedPids(marker); pids.length > 0 && Date.now() < deadline; pids = markedPids(marker)) {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (tempDir)
    for (const e of readdirSync(tempDir)) rmSync(join(tempDir, e), { recursive: true, force: true });
}

/** A human report of the leaks, or '' when there are none. */
export function describeLeaks(l: Leaks, tempDir = 'the temp dir'): string {
  const lines: string[] = [];
  for (const p of l.processes) {
    const ports = p.ports.length ? ` listening on port ${p.ports.join(', ')}` : '';
    lines.push(`  process ${p.pid}${ports}: ${p.command.slice(0, 200)}`);
  }
  for (const e of l.tempEntries) lines.push(`  temp entry ${join(tempDir, e)}`);
  return lines.join('\n');
}
