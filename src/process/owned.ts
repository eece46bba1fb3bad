import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { startTimeOf } from './identity.js';

/**
 * Environment variable naming the owner of a process as `PID:STARTTIME`. A distml CLI started by an owner
 * checks it at start-up (`ownerGone`): the parent-death signal is armed only once the child runs, so an
 * owner that died before that moment would otherwise go unnoticed.
 */
export const OWNER_ENV = 'DISTML_OWNER';

/** util-linux's setpriv (Debian: essential package util-linux); arms PR_SET_PDEATHSIG, then execs the command. */
const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv'];
let setpriv: string | null | undefined;

function findSetpriv(): string | null {
  if (setpriv === undefined) {
    setpriv = process.platform === 'linux' ? (SETPRIV_PATHS.find(isExecutable) ?? null) : null;
  }
  return setpriv;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** True when `command` names an executable as spawn would find it (PATH lookup for a bare name). */
function resolvable(command: string, env: NodeJS.ProcessEnv, cwd: string | URL | undefined): boolean {
  if (command.includes('/'))
    return isExecutable(isAbsolute(command) ? command : resolve(String(cwd ?? '.'), command));
  return (env['PATH'] ?? '').split(delimiter).some((dir) => dir && isExecutable(join(dir, command)));
}

/** This process as an owner: `PID:STARTTIME` for OWNER_ENV. */
export function ownerToken(): string {
  return `${process.pid}:${startTimeOf(process.pid) ?? 0}`;
}

/**
 * Starts a process that dies with this one, however this one dies (SIGKILL included): on Linux the kernel
 * sends it SIGKILL when we exit (PR_SET_PDEATHSIG, armed by setpriv before it execs the command, so the pid
 * is the command's own). The child also gets OWNER_ENV for its start-up check. Grandchildren are covered by
 * their own owner doing the same. A command that cannot be found is spawned as is, so the caller sees
 * spawn's usual ENOENT error rather than setpriv's exit code 127.
 */
export function spawnOwned(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const env = { ...(options.env ?? process.env), [OWNER_ENV]: ownerToken() };
  const wrapper = findSetpriv();
  if (wrapper && resolvable(command, env, options.cwd)) {
    return spawn(wrapper, ['--pdeathsig', 'KILL', '--', command, ...args], { ...options, env });
  }
  return spawn(command, [...args], { ...options, env });
}

/**
 * For a process started by spawnOwned: true when its owner (OWNER_ENV's value) has already exited, so it
 * must not run on alone. A process started through an intermediate (a step's shell) whose owner still runs
 * is fine: that owner ends the whole step.
 */
export function ownerGone(token: string, parentPid: number): boolean {
  const m = /^(\d+):(\d+)$/.exec(token);
  // Without /proc (not Linux) nothing can be checked, and no parent-death signal was armed either.
  if (!m || m[2] === '0' || process.platform !== 'linux') return false;
  const pid = Number(m[1]);
  if (pid === parentPid) return false;
  return startTimeOf(pid) !== Number(m[2]);
}
