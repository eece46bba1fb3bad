// Writes that a crash (SIGKILL, power loss) never leaves half-done: content goes to a temp name in the same
// folder, is fsynced, renamed into place, and the folder is fsynced so the rename itself is on disk. Readers
// see the old state or the new one, never a mix. Temp names carry the writer's pid, so what a dead writer
// left is recognised and swept by the next writer.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readlink, realpath, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DurableError } from './errors.js';
import { isAlive } from './lock.js';

/** File names and contents of a directory written in one piece. */
export type DirFiles = Record<string, string | Uint8Array>;

/** `.<name>.<kind>-<pid>-<hex>`: every temp or content name this module makes. */
const TEMP = /^\.(.+)\.(tmp|v|link)-(\d+)-[0-9a-f]{8}$/;

const tag = (): string => `${process.pid}-${randomBytes(4).toString('hex')}`;
const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** Flushes a directory's entries (a rename or a new file in it) to disk. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeSynced(path: string, content: string | Uint8Array): Promise<void> {
  const fh = await open(path, 'wx', 0o644);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replaces (or creates) the file at `path` in one step: temp file, fsync, rename over, fsync the folder. */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tmp-${tag()}`);
  try {
    await writeSynced(tmp, content);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** A new folder `parent/name` holding `files`, each file and the folder fsynced. */
async function buildDir(parent: string, name: string, files: DirFiles): Promise<string> {
  const dir = join(parent, name);
  await mkdir(dir);
  try {
    for (const [file, content] of Object.entries(files)) await writeSynced(join(dir, file), content);
    await fsyncDir(dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

/**
 * Creates the folder `dir` holding `files`, all at once: built in a hidden sibling, then renamed in. Fails
 * (EEXIST or ENOTEMPTY) when a non-empty `dir` exists, so two writers never both think they made it.
 */
export async function createDirAtomic(dir: string, files: DirFiles): Promise<void> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  await sweepTemps(parent, basename(dir));
  const tmp = await buildDir(parent, `.${basename(dir)}.tmp-${tag()}`, files);
  try {
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await fsyncDir(parent);
}

/**
 * Writes `files` as the new content of folder `dir` with no moment where `dir` is missing or mixed: each
 * content is a complete hidden sibling (`.<name>.v-…`) and `dir` is a symlink to it, swapped by renaming a new
 * symlink over it. The previous content stays until the next replacement, so a reader that resolved `dir`
 * (see resolveDir) just before a swap can still finish. A plain folder at `dir` (made before this scheme, or
 * by hand) is moved aside once, the only replacement that has a moment without `dir`.
 */
export async function replaceDirAtomic(dir: string, files: DirFiles): Promise<void> {
  const parent = dirname(dir);
  const base = basename(dir);
  await mkdir(parent, { recursive: true });
  const previous = await currentTarget(dir);
  const target = await buildDir(parent, `.${base}.v-${tag()}`, files);
  let moved: string | undefined;
  try {
    moved = await pointTo(dir, basename(target));
  } catch (err) {
    await rm(target, { recursive: true, force: true });
    throw err;
  }
  await fsyncDir(parent);
  await sweepTemps(parent, base, [basename(target), moved ?? previous ?? '']);
}

/** The symlink target `dir` points to; undefined when `dir` is missing or a plain folder. */
async function currentTarget(dir: string): Promise<string | undefined> {
  let st;
  try {
    st = await lstat(dir);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
  if (st.isSymbolicLink()) return readlink(dir);
  if (st.isDirectory()) return undefined;
  throw new DurableError(
    'DURABLE_NOT_DIRECTORY',
    `${dir} is a file, not a folder: move it away or choose another path`,
  );
}

/** Swaps `dir` to point at `targetName`; returns where a plain folder that was at `dir` went. */
async function pointTo(dir: string, targetName: string): Promise<string | undefined> {
  const parent = dirname(dir);
  const link = join(parent, `.${basename(dir)}.link-${tag()}`);
  await symlink(targetName, link);
  try {
    try {
      await rename(link, dir);
      return undefined;
    } catch (err) {
      if (!['EISDIR', 'ENOTEMPTY', 'EEXIST'].includes(errno(err) ?? '')) throw err;
    }
    const aside = `.${basename(dir)}.v-${tag()}`;
    await rename(dir, join(parent, aside));
    await rename(link, dir);
    return aside;
  } catch (err) {
    await rm(link, { force: true });
    throw err;
  }
}

/**
 * The real folder behind `dir` (a replaceDirAtomic symlink or a plain folder): read every file of one
 * content through it, so a swap between two reads cannot mix two contents.
 */
export async function resolveDir(dir: string): Promise<string> {
  try {
    return await realpath(dir);
  } catch (err) {
    if (errno(err) === 'ENOENT') return dir; // let the caller's read report what is missing
    throw err;
  }
}

/**
 * Removes what crashed writers left in `parent`: temp folders, files and links of dead processes (for any
 * name), and contents of `base` (`.<base>.v-…`) neither in `keep` nor being written by a live process. Our
 * own old contents of `base` go too.
 */
async function sweepTemps(parent: string, base: string, keep: string[] = []): Promise<void> {
  // Whatever `base` points to now is never swept, whoever swapped it in and whether they are still alive.
  const current = await currentTarget(join(parent, base)).catch(() => undefined);
  if (current) keep = [...keep, current];
  const names = await readdir(parent).catch(() => [] as string[]);
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m || keep.includes(name)) continue;
    const [, owner, kind, pidText] = m;
    const pid = Number(pidText);
    if (kind === 'v' && owner !== base) continue; // another folder's content: maybe what its link points to
    const ours = pid === process.pid && kind === 'v';
    if (ours || !isAlive(pid)) await rm(join(parent, name), { recursive: true, force: true });
  }
}

/**
 * Removes folder `dir` so that it disappears at once: renamed to a temp name first, then deleted (a crash
 * during the delete leaves a temp folder the next writer sweeps, never a half-deleted `dir`).
 */
export async function removeDirAtomic(dir: string): Promise<void> {
  const aside = join(dirname(dir), `.${basename(dir)}.tmp-${tag()}`);
  try {
    await rename(dir, aside);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw err;
  }
  await rm(aside, { recursive: true, force: true });
}
