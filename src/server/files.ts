// Where a workspace's server keeps what others need to find it: a lock (one server per workspace), its
// address with the bearer secret (mode 0600: only this user may talk to it), its log.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncDir } from '../durable/index.js';
import { isRunning } from '../process/index.js';

export interface ServerInfo {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Bearer secret every request must carry. */
  secret: string;
  pid: number;
  /** /proc start time of the server process, so a reused pid is never taken for it. */
  startTime: number;
  /** ms since the epoch. */
  startedAt: number;
  /** Started on demand by a CLI (stops after its idle timeout). */
  auto: boolean;
}

/** The files of a workspace's server, all under <workspace>/server/. */
export function serverPaths(workspace: string): { dir: string; info: string; lock: string; log: string } {
  const dir = join(workspace, 'server');
  return {
    dir,
    info: join(dir, 'server.json'),
    lock: join(dir, 'server.lock'),
    log: join(dir, 'server.log'),
  };
}

/** The server's folder (mode 0700), created when missing. */
export function ensureServerDir(workspace: string): string {
  const { dir } = serverPaths(workspace);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Writes the info file whole (temp file with mode 0600, fsync, rename), so a reader never sees half of it. */
export async function writeServerInfo(workspace: string, info: ServerInfo): Promise<void> {
  const path = serverPaths(workspace).info;
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(info, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** The info file as written, or null when there is none (or it cannot be read). */
export function readServerInfo(workspace: string): ServerInfo | null {
  try {
    const v = JSON.parse(readFileSync(serverPaths(workspace).info, 'utf8')) as ServerInfo;
    return typeof v.url === 'string' && typeof v.secret === 'string' && Number.isInteger(v.pid) ? v : null;
  } catch {
    return null;
  }
}

/** The info file's server when that very process still runs, else null. */
export function liveServerInfo(workspace: string): ServerInfo | null {
  const info = readServerInfo(workspace);
  return info && isRunning({ pid: info.pid, startTime: info.startTime }) ? info : null;
}

/** Removes the info file if it is still this process's. */
export async function removeServerInfo(workspace: string): Promise<void> {
  if (readServerInfo(workspace)?.pid === process.pid) await rm(serverPaths(workspace).info, { force: true });
}
