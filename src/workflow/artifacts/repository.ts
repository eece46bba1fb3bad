// The workspace's artifact repository (Argo's artifact repository, local): blobs named by the SHA-256 of their
// bytes under `<workspace>/artifacts/sha256/<first 2 hex>/<64 hex>`, so identical content is stored once and
// a reader can check what it got. Each blob is written whole (src/durable: temp file, fsync, rename, fsync the
// folder): a crash leaves the old state or a complete blob, never a partial one under a digest's name.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive, writeFileAtomic } from '../../durable/index.js';

const DIGEST = /^sha256:([0-9a-f]{64})$/;
/** What writeFileAtomic leaves behind when its writer dies: `.<name>.tmp-<pid>-<hex>`. */
const TEMP = /^\..+\.tmp-(\d+)-[0-9a-f]{8}$/;

export const sha256 = (bytes: Uint8Array): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Content-addressed blobs in a folder. */
export class ArtifactRepository {
  constructor(readonly root: string) {}

  /** The repository of a workspace. */
  static of(workspace: string): ArtifactRepository {
    return new ArtifactRepository(join(workspace, 'artifacts'));
  }

  /** Where the blob of `digest` lives. */
  blobPath(digest: string): string {
    const hex = DIGEST.exec(digest)?.[1];
    if (!hex) throw new Error(`"${digest}" is not a sha256:<64 hex> digest`);
    return join(this.root, 'sha256', hex.slice(0, 2), hex);
  }

  has(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }

  /** Stores `bytes` (once: a blob already there is kept) and returns its digest and size. */
  async put(bytes: Uint8Array): Promise<{ digest: string; size: number }> {
    const digest = sha256(bytes);
    const path = this.blobPath(digest);
    if (existsSync(path) && statSync(path).size === bytes.length) return { digest, size: bytes.length };
    mkdirSync(join(path, '..'), { recursive: true });
    sweepDeadTemps(join(path, '..'));
    await writeFileAtomic(path, bytes);
    return { digest, size: bytes.length };
  }

  /** The blob of `digest`, checked against it: a blob that does not match is an error, never used. */
  async read(digest: string): Promise<Buffer> {
    const path = this.blobPath(digest);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new Error(`artifact ${digest} is not in the repository ${this.root} (was it deleted?)`);
      throw err;
    }
    if (sha256(bytes) !== digest)
      throw new Error(`artifact blob ${path} does not match its digest: the repository is damaged`);
    return bytes;
  }
}

/** Removes the temp files of writers that died before renaming them in. */
function sweepDeadTemps(dir: string): void {
  for (const name of readdirSync(dir)) {
    const pid = TEMP.exec(name)?.[1];
    if (pid && !isAlive(Number(pid))) rmSync(join(dir, name), { force: true });
  }
}
