// Moving an artifact between a step's files and the repository. Argo's archive choices: `tar` (the default,
// gzip-compressed; `compressionLevel: 0` leaves it uncompressed) holds a file or a folder under its own name;
// `none` stores a file's bytes as they are (a folder, which a single blob cannot hold as is, as an
// uncompressed tar). A consumer gets the file at its path, or the folder's content at its path.
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { StoredArtifact } from '../../metadata/index.js';
import type { ArtifactRepository } from './repository.js';
import { collectEntries, packTar, unpackTar, type TarEntry } from './tar.js';

/** How an output artifact is to be stored, from its template. */
export interface SaveSpec {
  name: string;
  archive: 'none' | 'tar';
  /** gzip level for `tar` (Argo's default compression when unset; 0: no compression). */
  compressionLevel?: number;
  node: string;
  /** The path the step declared (kept for the record). */
  path: string;
  globalName?: string;
}

/** Saves what is at `hostPath`; undefined when nothing is there. */
export async function saveArtifact(
  repo: ArtifactRepository,
  hostPath: string,
  spec: SaveSpec,
): Promise<StoredArtifact | undefined> {
  if (!existsSync(hostPath)) return undefined;
  const root = basename(hostPath) || spec.name;
  const entries = collectEntries(hostPath, root);
  const type = entries[0]!.type === 'dir' ? 'dir' : 'file';
  let bytes: Buffer;
  let archive: StoredArtifact['archive'];
  if (spec.archive === 'none' && entries[0]!.type === 'file') {
    bytes = entries[0]!.data!;
    archive = 'none';
  } else {
    const tar = packTar(entries);
    const level = spec.archive === 'none' ? 0 : (spec.compressionLevel ?? -1);
    archive = level === 0 ? 'tar' : 'tgz';
    bytes = level === 0 ? tar : gzipSync(tar, { level });
  }
  const { digest, size } = await repo.put(bytes);
  return {
    name: spec.name,
    digest,
    size,
    archive,
    type,
    node: spec.node,
    path: spec.path,
    ...(spec.globalName !== undefined ? { globalName: spec.globalName } : {}),
  };
}

/**
 * Writes artifact `a` at `dest` (replacing what is there): its file, or its folder's content. `subPath`
 * picks one file or folder inside a folder artifact (Argo's arguments.artifacts[].subPath).
 */
export async function restoreArtifact(
  repo: ArtifactRepository,
  a: StoredArtifact,
  dest: string,
  o: { subPath?: string; mode?: number } = {},
): Promise<void> {
  const bytes = await repo.read(a.digest);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dirname(dest), { recursive: true });
  if (a.archive === 'none') {
    if (o.subPath) throw new Error(`artifact "${a.name}" is a file: it has no subPath "${o.subPath}"`);
    writeFileSync(dest, bytes);
  } else {
    const entries = unpackTar(a.archive === 'tgz' ? gunzipSync(bytes) : bytes);
    const root = entries[0]?.name.split('/')[0] ?? '';
    const base = o.subPath ? `${root}/${o.subPath.replace(/^\/+|\/+$/g, '')}` : root;
    const picked = entries.filter((e) => e.name === base || e.name.startsWith(`${base}/`));
    if (picked.length === 0) throw new Error(`artifact "${a.name}" has no "${o.subPath}" in it`);
    for (const e of picked) writeEntry(join(dest, e.name.slice(base.length)), e);
  }
  if (o.mode !== undefined) chmodSync(dest, o.mode);
}

function writeEntry(path: string, e: TarEntry): void {
  if (e.type === 'dir') {
    mkdirSync(path, { recursive: true });
    chmodSync(path, (e.mode || 0o755) | 0o700);
    return;
  }
  mkdirSync(dirname(path), { recursive: true });
  if (e.type === 'symlink') symlinkSync(e.linkname!, path);
  else writeFileSync(path, e.data!, { mode: e.mode || 0o644 });
}
