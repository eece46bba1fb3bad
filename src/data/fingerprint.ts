import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../durable/index.js';
import { DataError } from './errors.js';

interface MemoEntry {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
}

/** Hex SHA-256 of a string. */
export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** SHA-256 of a file's bytes, streamed. */
export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  } catch (err) {
    throw new DataError('DATA_NOT_FOUND', `${file}: cannot read: ${(err as Error).message}`);
  }
  return h.digest('hex');
}

/**
 * Content hashes of files, remembered in `memoFile` by (size, mtime, inode) so repeated runs do not re-read
 * unchanged files. A changed file gets a new hash, and so invalidates every cache keyed on it.
 */
export async function hashFiles(files: readonly string[], memoFile?: string): Promise<string[]> {
  const memo: Record<string, MemoEntry> = memoFile ? await readMemo(memoFile) : {};
  let dirty = false;
  const out: string[] = [];
  for (const f of files) {
    const st = await stat(f).catch(() => {
      throw new DataError('DATA_NOT_FOUND', `${f}: no such file`);
    });
    const m = memo[f];
    if (m && m.size === st.size && m.mtimeMs === st.mtimeMs && m.ino === st.ino) {
      out.push(m.sha256);
      continue;
    }
    const sha = await fileSha256(f);
    memo[f] = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256: sha };
    dirty = true;
    out.push(sha);
  }
  if (memoFile && dirty) await writeMemo(memoFile, memo);
  return out;
}

async function readMemo(file: string): Promise<Record<string, MemoEntry>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, MemoEntry>;
  } catch {
    return {};
  }
}

async function writeMemo(file: string, memo: Record<string, MemoEntry>): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(memo));
}
