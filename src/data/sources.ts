import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { downloadFile, type DownloadProgress } from './download.js';
import { DataError } from './errors.js';
import { CANONICAL, FILE_NAMES, type Split, type SplitFiles } from './fashion-mnist.js';
import { hashFiles, sha256 } from './fingerprint.js';

/** Where Debian's `dataset-fashion-mnist` package puts the files. */
export const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

/** `auto`, `debian`, `url`, or a directory path. */
export type SourceChoice = string;

export interface ResolveOptions {
  /** auto (default): Debian's files, then a copy downloaded earlier into the workspace, then the URL. */
  source?: SourceChoice;
  /** Workspace root; downloads go to `<workspace>/datasets/fashion-mnist`. */
  workspace: string;
  /** Base URL of the four .gz files (a mirror must serve the canonical bytes). */
  urlBase?: string;
  /** Pinned SHA-256 per .gz file name; defaults to the canonical files' hashes. */
  checksums?: Record<string, string>;
  debianDir?: string;
  idleTimeoutMs?: number;
  onDownload?: (p: DownloadProgress) => void;
}

export interface ResolvedSource {
  kind: 'dir' | 'debian' | 'workspace' | 'url';
  dir: string;
  train: SplitFiles;
  test: SplitFiles;
}

const ALL_BASES = [
  FILE_NAMES.train.images,
  FILE_NAMES.train.labels,
  FILE_NAMES.test.images,
  FILE_NAMES.test.labels,
];

/** Finds (or downloads) the four Fashion-MNIST files and fingerprints them. */
export async function resolveFashionMnist(opts: ResolveOptions): Promise<ResolvedSource> {
  const choice = opts.source ?? 'auto';
  const debianDir = opts.debianDir ?? DEBIAN_DIR;
  const downloadDir = join(opts.workspace, 'datasets', 'fashion-mnist');
  const memo = join(opts.workspace, 'cache', 'file-hashes.json');
  const tried: string[] = [];
  const attempt = async (kind: ResolvedSource['kind'], dir: string) => {
    const found = await findFiles(dir);
    if ('missing' in found) {
      tried.push(`${dir} (missing ${found.missing.join(', ')})`);
      return undefined;
    }
    return withHashes(kind, dir, found.files, memo);
  };

  if (choice !== 'auto' && choice !== 'debian' && choice !== 'url') {
    const dir = resolve(choice);
    const r = await attempt('dir', dir);
    if (r) return r;
    throw new DataError(
      'DATA_NOT_FOUND',
      `no Fashion-MNIST files in ${tried.join('; ')}; copy them there (raw or .gz), or use --source debian after apt-get install dataset-fashion-mnist`,
    );
  }
  if (choice === 'auto' || choice === 'debian') {
    const r = await attempt('debian', debianDir);
    if (r) return r;
    if (choice === 'debian') throw notFound(tried);
  }
  if (choice === 'auto') {
    const r = await attempt('workspace', downloadDir);
    if (r) return r;
  }
  try {
    await download(downloadDir, opts);
  } catch (err) {
    tried.push(`download from ${opts.urlBase ?? CANONICAL.urlBase} (${(err as Error).message})`);
    throw notFound(tried);
  }
  const r = await attempt('url', downloadDir);
  if (!r) throw notFound(tried);
  return r;
}

async function download(dir: string, opts: ResolveOptions): Promise<void> {
  const base = (opts.urlBase ?? CANONICAL.urlBase).replace(/\/?$/, '/');
  const sums = opts.checksums ?? CANONICAL.sha256;
  for (const name of ALL_BASES) {
    const file = `${name}.gz`;
    const dest = join(dir, file);
    if (await exists(dest)) continue;
    const sum = sums[file];
    if (!sum) throw new DataError('DATA_BAD_OPTION', `no pinned SHA-256 for ${file}`);
    await downloadFile(base + file, dest, {
      sha256: sum,
      idleTimeoutMs: opts.idleTimeoutMs,
      onProgress: opts.onDownload,
    });
  }
}

type Found = { files: Record<string, string> } | { missing: string[] };

async function findFiles(dir: string): Promise<Found> {
  const files: Record<string, string> = {};
  const missing: string[] = [];
  for (const base of ALL_BASES) {
    const gz = join(dir, `${base}.gz`);
    const raw = join(dir, base);
    if (await exists(gz)) files[base] = gz;
    else if (await exists(raw)) files[base] = raw;
    else missing.push(`${base}[.gz]`);
  }
  return missing.length ? { missing } : { files };
}

async function withHashes(
  kind: ResolvedSource['kind'],
  dir: string,
  files: Record<string, string>,
  memo: string,
): Promise<ResolvedSource> {
  const split = async (s: Split): Promise<SplitFiles> => {
    const images = files[FILE_NAMES[s].images] as string;
    const labels = files[FILE_NAMES[s].labels] as string;
    const [hi, hl] = await hashFiles([images, labels], memo);
    return { images, labels, sha256: sha256(`${hi}\n${hl}`) };
  };
  return { kind, dir, train: await split('train'), test: await split('test') };
}

function notFound(tried: string[]): DataError {
  return new DataError(
    'DATA_NOT_FOUND',
    `Fashion-MNIST not found. Tried: ${tried.join('; ')}. Fix: apt-get install dataset-fashion-mnist, or pass --source DIR with ${namesHint()}`,
  );
}

function namesHint(): string {
  return `the four IDX files (${ALL_BASES.map((b) => `${b}[.gz]`).join(', ')})`;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}
