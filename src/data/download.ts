import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from '../durable/index.js';
import { DataError } from './errors.js';

export interface DownloadProgress {
  file: string;
  received: number;
  /** Content-Length when the server sent one. */
  total?: number;
}

export interface DownloadOptions {
  /** Expected SHA-256 (hex) of the whole body; a mismatch deletes the partial file. */
  sha256: string;
  /** Give up when no byte arrives for this long (connect included). Default 15 s. */
  idleTimeoutMs?: number;
  onProgress?: (p: DownloadProgress) => void;
}

/**
 * Downloads `url` to `dest`: streams into a temporary file beside it while hashing, checks the pinned SHA-256,
 * then renames. `dest` either does not exist or holds the verified file — never a partial one.
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.part-${process.pid}-${randomBytes(4).toString('hex')}`;
  const idle = opts.idleTimeoutMs ?? 15_000;
  const ctl = new AbortController();
  let timer = setTimeout(() => ctl.abort(), idle);
  const fh = await open(tmp, 'w');
  let ok = false;
  try {
    const res = await fetch(url, { signal: ctl.signal }).catch((err: unknown) => {
      throw new DataError('DATA_DOWNLOAD_FAILED', `${url}: ${describeFetchError(err, idle)}`);
    });
    if (!res.ok || !res.body)
      throw new DataError('DATA_DOWNLOAD_FAILED', `${url}: HTTP ${res.status} ${res.statusText}`);
    const total = Number(res.headers.get('content-length')) || undefined;
    const hash = createHash('sha256');
    let received = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        clearTimeout(timer);
        timer = setTimeout(() => ctl.abort(), idle);
        hash.update(chunk);
        await fh.write(chunk);
        received += chunk.length;
        opts.onProgress?.({ file: url, received, total });
      }
    } catch (err) {
      throw new DataError(
        'DATA_DOWNLOAD_FAILED',
        `${url}: transfer stopped after ${received} bytes: ${describeFetchError(err, idle)}`,
      );
    }
    const got = hash.digest('hex');
    if (got !== opts.sha256) {
      throw new DataError(
        'DATA_CHECKSUM',
        `${url}: SHA-256 is ${got}, expected ${opts.sha256}; the download is damaged or the mirror serves other files`,
      );
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, dest);
    await fsyncDir(dirname(dest));
    ok = true;
  } finally {
    clearTimeout(timer);
    if (!ok) {
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
    }
  }
}

function describeFetchError(err: unknown, idleMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'AbortError') return `no data for ${idleMs / 1000} s (no network?)`;
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message ?? 'failed'} (${cause})` : (e.message ?? String(err));
}
