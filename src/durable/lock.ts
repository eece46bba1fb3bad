// A lock file per resource, held across processes. It is created whole by link(2), which fails when the name
// exists (O_EXCL semantics, also on NFS). It names its holder by pid *and* process start time, so a lock left
// by a crashed holder — or whose pid was reused by another process — is recognised as stale and broken.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DurableError } from './errors.js';

export interface LockOptions {
  /** How long to wait for a live holder before failing. Default 10 minutes. */
  timeoutMs?: number;
  /** How often to look again while waiting. Default 50 ms. */
  pollMs?: number;
}

interface Holder {
  pid: number;
  /** Start time from /proc (clock ticks since boot); '' where /proc is not available. */
  start: string;
  since: string;
}

/** A process's start time as the kernel records it (Linux /proc), or undefined when unknown. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may hold spaces and parentheses, so count after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True for a process that has exited and waits to be reaped (its parent may never do it: then it stays). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

function holderAlive(h: Holder): boolean {
  if (!isAlive(h.pid) || isZombie(h.pid)) return false;
  const now = processStartTime(h.pid);
  return h.start === '' || now === undefined || now === h.start;
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Holder;
    return Number.isInteger(h.pid) && typeof h.start === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** A held lock; `await using lock = await acquireLock(…)` releases it when the block ends, however it ends. */
export interface HeldLock extends AsyncDisposable {
  readonly path: string;
  release(): Promise<void>;
}

/** Takes the lock file at `path`, waiting while a live process (any process) holds it. */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<HeldLock> {
  const me = await acquire(path, opts);
  const release = async () => {
    const now = await readFile(path, 'utf8').catch(() => undefined);
    if (now === me) await rm(path, { force: true });
  };
  return { path, release, [Symbol.asyncDispose]: release };
}

/** Runs `fn` while holding the lock file at `path`; other holders (any process) wait their turn. */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

async function acquire(path: string, opts: LockOptions): Promise<string> {
  const holder: Holder = {
    pid: process.pid,
    start: processStartTime(process.pid) ?? '',
    since: new Date().toISOString(),
  };
  const me = JSON.stringify(holder);
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    if (await tryCreate(path, me)) return me;
    const seen = await readFile(path, 'utf8').catch(() => undefined);
    if (seen === undefined) continue; // released between our attempt and our look
    const h = parseHolder(seen);
    if (!h || !holderAlive(h)) {
      await breakStale(path, seen);
      continue;
    }
    if (Date.now() > deadline) {
      throw new DurableError(
        'DURABLE_LOCK_TIMEOUT',
        `${path} is held by process ${h.pid} (since ${h.since}); waited ${Math.round((opts.timeoutMs ?? 600_000) / 1000)} s. Wait for it to finish, or stop it`,
      );
    }
    await sleep(opts.pollMs ?? 50);
  }
}

/** Creates the lock with its content in one step: write a temp file, then link it to the lock name. */
async function tryCreate(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Removes a stale lock. It is first renamed aside and checked: when two waiters break the same stale lock
 * at once, the second one may have moved a fresh lock that a third process just took; it puts that back.
 */
async function breakStale(path: string, seen: string): Promise<void> {
  const aside = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await readFile(aside, 'utf8').catch(() => seen);
  if (moved !== seen) await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
}
